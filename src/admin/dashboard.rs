//! The dashboard's static files, compiled into the binary (no CDN, no external fonts).

pub const HTML: &str = include_str!("assets/dashboard.html");
pub const JS: &str = include_str!("assets/dashboard.js");
pub const CSS: &str = include_str!("assets/dashboard.css");

pub const HTML_TYPE: &str = "text/html; charset=utf-8";
pub const JS_TYPE: &str = "text/javascript; charset=utf-8";
pub const CSS_TYPE: &str = "text/css; charset=utf-8";
