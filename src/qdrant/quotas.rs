//! `GET /quotas` and `PUT /quotas`.

use std::rc::Rc;

use serde_json::json;

use super::error::Error;
use super::json::parse_body;
use super::write_result;
use crate::runtime::core::Core;
use crate::runtime::quotas::{self, QuotaConfig};

/// `GET /quotas`: the configuration in force and this node's usage.
pub fn get(core: &Core, out: &mut Vec<u8>) -> Result<(), Error> {
    let config = core.quotas.config.borrow().clone();
    write_result(
        out,
        &json!({"config": *config, "usage": quotas::usage(core)}),
    )
}

/// `PUT /quotas`: replaces the configuration (persisted, all cores).
pub async fn set(core: &Rc<Core>, body: &mut [u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let config: QuotaConfig = parse_body(body)?;
    config.validate().map_err(Error::Validation)?;
    quotas::set(core, config).await?;
    write_result(out, &true)
}
