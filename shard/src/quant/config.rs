//! Qdrant's `quantization_config` (collection level, per vector, in PATCH) and search
//! `params.quantization`, checked once and turned into what the engine builds and searches
//! with. The JSON form is stored and reported back as given; this is the one parser of it.

use serde_json::Value;

/// Lowest `scalar.quantile` Qdrant accepts.
pub const QUANTILE_MIN: f32 = 0.5;
/// Highest `scalar.quantile` (1.0: the whole range of values).
pub const QUANTILE_MAX: f32 = 1.0;

/// Dimensions folded into one code byte of product quantization, by compression ratio: an
/// f32 takes 4 bytes, so `xN` keeps one byte per `N / 4` dimensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    X4,
    X8,
    X16,
    X32,
    X64,
}

impl Compression {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "x4" => Compression::X4,
            "x8" => Compression::X8,
            "x16" => Compression::X16,
            "x32" => Compression::X32,
            "x64" => Compression::X64,
            _ => return None,
        })
    }

    /// Dimensions per sub-vector (one code byte each).
    pub fn dims_per_code(self) -> usize {
        match self {
            Compression::X4 => 1,
            Compression::X8 => 2,
            Compression::X16 => 4,
            Compression::X32 => 8,
            Compression::X64 => 16,
        }
    }

    pub fn code(self) -> u8 {
        self.dims_per_code() as u8
    }

    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Compression::X4,
            2 => Compression::X8,
            4 => Compression::X16,
            8 => Compression::X32,
            16 => Compression::X64,
            _ => return None,
        })
    }
}

/// How a column's vectors are quantized.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum QuantConfig {
    /// int8 codes over the column's value range clipped to `quantile` (1.0: the whole range).
    Scalar { quantile: f32 },
    /// One sign bit per dimension.
    Binary,
    /// k-means codebooks of 256 centroids per sub-vector.
    Product { compression: Compression },
}

// `quantile` is checked finite (and in range) by every constructor.
impl Eq for QuantConfig {}

/// Why a `quantization_config` was refused: a broken rule (422) or a valid Qdrant setting this
/// engine does not build (400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuantConfigError {
    /// Malformed: wrong shape or type (Qdrant: a JSON format error).
    Format(String),
    /// Well-formed but out of range.
    Invalid(String),
    /// A Qdrant option not built here (turbo, binary 2-bit/1.5-bit, asymmetric query encodings).
    Unsupported(String),
}

/// What a config field says: not given (inherit), "Disabled" (explicitly off), or a config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuantSetting {
    Disabled,
    On(QuantConfig),
}

impl QuantConfig {
    /// A total-ordered key naming the config (how the file stores it).
    pub fn key(self) -> (u8, u32) {
        super::format::config_code(self)
    }

    /// Parses one `quantization_config` value at `field` (for messages). `"Disabled"` only
    /// where `allow_disabled` (PATCH); `null` is "not set".
    pub fn parse(
        v: &Value,
        field: &str,
        allow_disabled: bool,
    ) -> Result<Option<QuantSetting>, QuantConfigError> {
        let format = |m: String| QuantConfigError::Format(format!("{field}: {m}"));
        let obj = match v {
            Value::Null => return Ok(None),
            Value::String(s) if s == "Disabled" && allow_disabled => {
                return Ok(Some(QuantSetting::Disabled))
            }
            Value::Object(o) => o,
            _ => {
                return Err(format(
                    "expected an object with one of scalar, product, binary".into(),
                ))
            }
        };
        if obj.len() != 1 {
            return Err(format(
                "expected exactly one of scalar, product, binary".into(),
            ));
        }
        let Some((kind, body)) = obj.iter().next() else {
            return Err(format("expected one of scalar, product, binary".into()));
        };
        let Value::Object(body) = body else {
            return Err(format(format!("{kind}: expected an object")));
        };
        let field = format!("{field}.{kind}");
        let allowed: &[&str] = match kind.as_str() {
            "scalar" => &["type", "quantile", "always_ram", "memory"],
            "binary" => &["always_ram", "memory", "encoding", "query_encoding"],
            "product" => &["compression", "always_ram", "memory"],
            "turbo" => {
                return Err(QuantConfigError::Unsupported(
                    "turbo quantization".to_owned(),
                ))
            }
            other => {
                return Err(QuantConfigError::Format(format!(
                    "{field}: unknown quantization {other:?}, expected scalar, product or binary"
                )))
            }
        };
        if let Some(k) = body.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(QuantConfigError::Format(format!(
                "{field}: unknown field `{k}`"
            )));
        }
        if let Some(a) = body.get("always_ram") {
            if !a.is_null() && !a.is_boolean() {
                return Err(QuantConfigError::Format(format!(
                    "{field}.always_ram: expected a boolean"
                )));
            }
        }
        let text = |key: &str| -> Result<Option<&str>, QuantConfigError> {
            match body.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.as_str())),
                Some(_) => Err(QuantConfigError::Format(format!(
                    "{field}.{key}: expected a string"
                ))),
            }
        };
        let config = match kind.as_str() {
            "scalar" => {
                match text("type")? {
                    Some("int8") => {}
                    Some(t) => {
                        return Err(QuantConfigError::Format(format!(
                            "{field}.type: unknown variant `{t}`, expected `int8`"
                        )))
                    }
                    None => {
                        return Err(QuantConfigError::Format(format!(
                            "{field}: missing field `type`"
                        )))
                    }
                }
                let quantile = match body.get("quantile") {
                    None | Some(Value::Null) => QUANTILE_MAX,
                    Some(q) => {
                        let Some(q) = q.as_f64() else {
                            return Err(QuantConfigError::Format(format!(
                                "{field}.quantile: expected a number"
                            )));
                        };
                        if !(f64::from(QUANTILE_MIN)..=f64::from(QUANTILE_MAX)).contains(&q) {
                            return Err(QuantConfigError::Invalid(format!(
                                "{field}.quantile: value {q} invalid, must be from \
                                 {QUANTILE_MIN} to {QUANTILE_MAX}"
                            )));
                        }
                        q as f32
                    }
                };
                QuantConfig::Scalar { quantile }
            }
            "binary" => {
                match text("encoding")? {
                    None | Some("one_bit") => {}
                    Some(e @ ("two_bits" | "one_and_half_bits")) => {
                        return Err(QuantConfigError::Unsupported(format!(
                            "binary quantization encoding {e}"
                        )))
                    }
                    Some(e) => {
                        return Err(QuantConfigError::Format(format!(
                            "{field}.encoding: unknown variant `{e}`, expected one of \
                             `one_bit`, `two_bits`, `one_and_half_bits`"
                        )))
                    }
                }
                match text("query_encoding")? {
                    None | Some("default" | "binary") => {}
                    Some(e @ ("scalar4bits" | "scalar8bits")) => {
                        return Err(QuantConfigError::Unsupported(format!(
                            "binary quantization query_encoding {e}"
                        )))
                    }
                    Some(e) => {
                        return Err(QuantConfigError::Format(format!(
                            "{field}.query_encoding: unknown variant `{e}`, expected one of \
                             `default`, `binary`, `scalar4bits`, `scalar8bits`"
                        )))
                    }
                }
                QuantConfig::Binary
            }
            _ => {
                let Some(c) = text("compression")? else {
                    return Err(QuantConfigError::Format(format!(
                        "{field}: missing field `compression`"
                    )));
                };
                let Some(compression) = Compression::parse(c) else {
                    return Err(QuantConfigError::Format(format!(
                        "{field}.compression: unknown variant `{c}`, expected one of `x4`, \
                         `x8`, `x16`, `x32`, `x64`"
                    )));
                };
                QuantConfig::Product { compression }
            }
        };
        Ok(Some(QuantSetting::On(config)))
    }
}

/// Qdrant's search `params.quantization`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct QuantSearch {
    /// Search the original vectors only.
    pub ignore: bool,
    /// Rescore candidates with the original vectors; `None`: yes (they are always
    /// available here: originals stay in the segment).
    pub rescore: Option<bool>,
    /// Candidates collected per wanted hit (≥ 1).
    pub oversampling: Option<f64>,
}

/// Largest oversampling factor used (a larger request is clamped: bounded candidate lists).
pub const OVERSAMPLING_MAX: f64 = 1_000.0;

impl QuantSearch {
    pub fn rescore(&self) -> bool {
        self.rescore.unwrap_or(true)
    }

    /// Candidates to collect with quantized scores for `top` wanted hits.
    pub fn candidates(&self, top: usize) -> usize {
        let f = self
            .oversampling
            .unwrap_or(1.0)
            .clamp(1.0, OVERSAMPLING_MAX);
        ((top as f64) * f).ceil() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Option<QuantSetting>, QuantConfigError> {
        QuantConfig::parse(&v, "quantization_config", true)
    }

    #[test]
    fn accepts_qdrant_forms() {
        assert_eq!(
            parse(json!({"scalar": {"type": "int8", "quantile": 0.99, "always_ram": true}})),
            Ok(Some(QuantSetting::On(QuantConfig::Scalar {
                quantile: 0.99
            })))
        );
        assert_eq!(
            parse(
                json!({"binary": {"always_ram": false, "encoding": "one_bit",
                "query_encoding": "default"}})
            ),
            Ok(Some(QuantSetting::On(QuantConfig::Binary)))
        );
        assert_eq!(
            parse(json!({"product": {"compression": "x16"}})),
            Ok(Some(QuantSetting::On(QuantConfig::Product {
                compression: Compression::X16
            })))
        );
        assert_eq!(parse(json!("Disabled")), Ok(Some(QuantSetting::Disabled)));
        assert_eq!(parse(Value::Null), Ok(None));
    }

    #[test]
    fn refuses_bad_values() {
        assert!(matches!(
            parse(json!({"scalar": {"type": "int8", "quantile": 0.3}})),
            Err(QuantConfigError::Invalid(_))
        ));
        assert!(matches!(
            parse(json!({"scalar": {"type": "int4"}})),
            Err(QuantConfigError::Format(_))
        ));
        assert!(matches!(
            parse(json!({"product": {"compression": "x3"}})),
            Err(QuantConfigError::Format(_))
        ));
        assert!(matches!(
            parse(json!({"binary": {"encoding": "two_bits"}})),
            Err(QuantConfigError::Unsupported(_))
        ));
        assert!(matches!(
            parse(json!({"scalar": {}, "binary": {}})),
            Err(QuantConfigError::Format(_))
        ));
        assert!(matches!(
            QuantConfig::parse(&json!("Disabled"), "q", false),
            Err(QuantConfigError::Format(_))
        ));
    }

    #[test]
    fn oversampling_sets_candidates() {
        let q = QuantSearch {
            oversampling: Some(2.5),
            ..QuantSearch::default()
        };
        assert_eq!(q.candidates(10), 25);
        assert_eq!(QuantSearch::default().candidates(10), 10);
        assert!(QuantSearch::default().rescore());
    }
}
