//! `/admin/...` paths → [`AdminRoute`].

use crate::http::Method;

/// Path prefix of every admin route.
pub const PREFIX: &str = "/admin";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminRoute {
    /// `GET /admin/latency[?format=hdr]`
    Latency,
    /// `POST /admin/latency/reset`
    Reset,
    /// `GET /admin/dashboard` and its two static files.
    Dashboard,
    DashboardJs,
    DashboardCss,
    MethodNotAllowed,
    NotFound,
}

impl AdminRoute {
    /// Static files hold no data: they stay open so a browser can load the page and then
    /// ask for the key (Qdrant's own web UI works the same way). Data and reset need a key.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            AdminRoute::Dashboard
                | AdminRoute::DashboardJs
                | AdminRoute::DashboardCss
                | AdminRoute::MethodNotAllowed
                | AdminRoute::NotFound
        )
    }

    pub fn is_write(self) -> bool {
        self == AdminRoute::Reset
    }
}

/// `None` when `path` is not under [`PREFIX`] (`/administrator` is not ours either).
pub fn route(method: Method, path: &str) -> Option<AdminRoute> {
    let rest = path.strip_prefix(PREFIX)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return None;
    }
    let get = matches!(method, Method::Get | Method::Head);
    let (wanted, route) = match rest {
        "/latency" => (get, AdminRoute::Latency),
        "/latency/reset" => (method == Method::Post, AdminRoute::Reset),
        "/dashboard" => (get, AdminRoute::Dashboard),
        "/dashboard.js" => (get, AdminRoute::DashboardJs),
        "/dashboard.css" => (get, AdminRoute::DashboardCss),
        _ => return Some(AdminRoute::NotFound),
    };
    Some(if wanted {
        route
    } else {
        AdminRoute::MethodNotAllowed
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use Method::*;

    #[test]
    fn admin_paths() {
        assert_eq!(route(Get, "/admin/latency"), Some(AdminRoute::Latency));
        assert_eq!(route(Head, "/admin/latency"), Some(AdminRoute::Latency));
        assert_eq!(route(Post, "/admin/latency/reset"), Some(AdminRoute::Reset));
        assert_eq!(
            route(Get, "/admin/latency/reset"),
            Some(AdminRoute::MethodNotAllowed)
        );
        assert_eq!(route(Get, "/admin/dashboard"), Some(AdminRoute::Dashboard));
        assert_eq!(route(Get, "/admin/nope"), Some(AdminRoute::NotFound));
        assert_eq!(route(Get, "/admin"), Some(AdminRoute::NotFound));
        assert_eq!(route(Get, "/administrator"), None);
        assert_eq!(route(Get, "/collections"), None);
    }
}
