//! Alias routes: `POST /collections/aliases`, `GET /aliases`, `GET /collections/{c}/aliases`.

use schemars::JsonSchema;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::json::parse_body;
use super::write_result;
use crate::runtime::aliases::{self, AliasAction};
use crate::runtime::core::Core;

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ChangeAliases {
    actions: Vec<Action>,
}

/// One action, in Qdrant's `{"create_alias": {…}}` form.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
enum Action {
    #[serde(rename = "create_alias")]
    Create(CreateAlias),
    #[serde(rename = "delete_alias")]
    Delete(DeleteAlias),
    #[serde(rename = "rename_alias")]
    Rename(RenameAlias),
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct CreateAlias {
    collection_name: String,
    alias_name: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DeleteAlias {
    alias_name: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RenameAlias {
    old_alias_name: String,
    new_alias_name: String,
}

/// `POST /collections/aliases`: all actions apply, or none.
pub async fn change(core: &Rc<Core>, body: &mut [u8], out: &mut Vec<u8>) -> Result<(), Error> {
    let req: ChangeAliases = parse_body(body)?;
    let mut actions = Vec::with_capacity(req.actions.len());
    for a in req.actions {
        actions.push(match a {
            Action::Create(c) => {
                crate::runtime::catalog::validate_name(&c.alias_name)
                    .map_err(|e| Error::Validation(format!("alias_name: {e}")))?;
                AliasAction::Create {
                    alias: c.alias_name,
                    collection: c.collection_name,
                }
            }
            Action::Delete(d) => AliasAction::Delete {
                alias: d.alias_name,
            },
            Action::Rename(r) => {
                crate::runtime::catalog::validate_name(&r.new_alias_name)
                    .map_err(|e| Error::Validation(format!("new_alias_name: {e}")))?;
                AliasAction::Rename {
                    from: r.old_alias_name,
                    to: r.new_alias_name,
                }
            }
        });
    }
    aliases::change(core, actions).await?;
    write_result(out, &true)
}

#[derive(Serialize)]
struct AliasDescription {
    alias_name: String,
    collection_name: String,
}

#[derive(Serialize)]
struct AliasesResponse {
    aliases: Vec<AliasDescription>,
}

fn describe(list: Vec<(String, String)>) -> AliasesResponse {
    AliasesResponse {
        aliases: list
            .into_iter()
            .map(|(alias_name, collection_name)| AliasDescription {
                alias_name,
                collection_name,
            })
            .collect(),
    }
}

/// `GET /aliases`
pub fn list_all(core: &Core, out: &mut Vec<u8>) -> Result<(), Error> {
    write_result(out, &describe(aliases::list(core, None)))
}

/// `GET /collections/{name}/aliases`
pub fn list_for(core: &Core, name: &str, out: &mut Vec<u8>) -> Result<(), Error> {
    let coll = core.catalog.borrow().get(name)?;
    write_result(out, &describe(aliases::list(core, Some(&coll.name))))
}
