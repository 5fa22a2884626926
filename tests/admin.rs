//! The admin endpoint against the real binary: per-route latency counts match the requests
//! sent, reset, the `?format=hdr` histograms, the Prometheus series, API-key protection and
//! the embedded dashboard.

mod common;

use std::collections::BTreeMap;

use base64::Engine as _;
use common::{Response, Server};
use serde_json::Value;

/// Routes exercised by [`send_mix`] and how many requests of each it sends.
const MIX: [(&str, u64); 7] = [
    ("create_collection", 1),
    ("upsert", 3),
    ("get_point", 4),
    ("search", 5),
    ("count", 2),
    ("scroll", 2),
    ("other", 3),
];

fn send(s: &Server, method: &str, path: &str, key: Option<&str>, body: &str) -> Response {
    let mut c = s.connect();
    let auth = key.map(|k| format!("api-key: {k}\r\n")).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: x\r\n{auth}content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    std::io::Write::write_all(&mut c, req.as_bytes()).expect("write");
    common::read_response(&mut std::io::BufReader::new(c)).expect("answer")
}

/// Sends the requests [`MIX`] describes, each answered before the next.
fn send_mix(s: &Server, key: Option<&str>) {
    let ok = |r: Response, what: &str| assert_eq!(r.status, 200, "{what}: {}", r.text());
    ok(
        send(
            s,
            "PUT",
            "/collections/m",
            key,
            r#"{"vectors":{"size":2,"distance":"Dot"},"shard_number":2}"#,
        ),
        "create",
    );
    for i in 0..3 {
        let body = format!(r#"{{"points":[{{"id":{i},"vector":[1,{i}]}}]}}"#);
        ok(
            send(s, "PUT", "/collections/m/points?wait=true", key, &body),
            "upsert",
        );
    }
    for i in 0..4 {
        let r = send(
            s,
            "GET",
            &format!("/collections/m/points/{}", i % 3),
            key,
            "",
        );
        ok(r, "get");
    }
    for _ in 0..5 {
        let body = r#"{"vector":[1,0],"limit":2}"#;
        ok(
            send(s, "POST", "/collections/m/points/search", key, body),
            "search",
        );
    }
    for _ in 0..2 {
        ok(
            send(s, "POST", "/collections/m/points/count", key, "{}"),
            "count",
        );
        ok(
            send(s, "POST", "/collections/m/points/scroll", key, "{}"),
            "scroll",
        );
    }
    // Unknown paths and wrong methods are measured too, under `other`.
    assert_eq!(send(s, "GET", "/no/such/route", key, "").status, 404);
    assert_eq!(send(s, "GET", "/nope", key, "").status, 404);
    assert_eq!(
        send(s, "DELETE", "/collections/m/points/search", key, "").status,
        405
    );
}

fn latency(s: &Server, key: Option<&str>) -> Value {
    let r = send(s, "GET", "/admin/latency", key, "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert_eq!(v["status"], "ok");
    v["result"].clone()
}

fn count_of(result: &Value, route: &str) -> u64 {
    result["routes"][route]["count"].as_u64().unwrap_or(0)
}

/// `name{labels} value` lines of a Prometheus text body.
fn samples(text: &str) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (name, value) = l.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

#[test]
fn latency_counts_match_the_requests_sent_and_reset_zeroes_them() {
    let s = Server::start_with_config("[runtime]\ncores = 2\nio_memory_kib = 1024\n");
    send_mix(&s, None);

    let result = latency(&s, None);
    assert_eq!(result["unit"], "us");
    for (route, sent) in MIX {
        let r = &result["routes"][route];
        assert_eq!(count_of(&result, route), sent, "{route}: {r}");
        let p = |k: &str| r[k].as_u64().unwrap_or_else(|| panic!("{route}.{k}: {r}"));
        assert!(p("p50") <= p("p90") && p("p90") <= p("p99"), "{route}: {r}");
        assert!(
            p("p99") <= p("p99.9") && p("p99.9") <= p("p99.99"),
            "{route}: {r}"
        );
        assert!(p("p99.99") <= p("max") && p("max") > 0, "{route}: {r}");
    }
    let cores = result["cores"].as_array().expect("cores");
    assert_eq!(cores.len(), 2);
    let per_core: u64 = cores.iter().map(|c| c["requests"].as_u64().unwrap()).sum();
    let sent: u64 = MIX.iter().map(|(_, n)| n).sum();
    // Plus the harness' /readyz probes; the current request is recorded after its answer.
    let routes_total: u64 = result["routes"]
        .as_object()
        .unwrap()
        .values()
        .map(|r| r["count"].as_u64().unwrap())
        .sum();
    assert_eq!(per_core, routes_total);
    assert!(per_core >= sent, "{per_core} < {sent}");
    for c in cores {
        assert!(c["requests_per_second"].as_f64().unwrap() >= 0.0, "{c}");
        assert!(c["seconds"].as_f64().unwrap() > 0.0, "{c}");
    }

    // The serialized histograms decode to the same counts.
    let r = send(&s, "GET", "/admin/latency?format=hdr", None, "");
    assert_eq!(r.status, 200, "{}", r.text());
    let hdr = r.json()["result"].clone();
    assert_eq!(hdr["format"], "hdrhistogram-v2-deflate-base64");
    for (route, sent) in MIX {
        let b64 = hdr["routes"][route].as_str().expect(route);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("base64");
        let h: hdrhistogram::Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut &bytes[..])
            .expect("V2 deflate histogram");
        assert_eq!(h.len(), sent, "{route}");
    }
    assert_eq!(
        send(&s, "GET", "/admin/latency?format=csv", None, "").status,
        400
    );

    // Prometheus: one histogram per route whose _count is what was sent.
    let r = send(&s, "GET", "/metrics", None, "");
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(text.contains("# TYPE vexfs_request_duration_seconds histogram"));
    assert!(text.contains("# TYPE vexfs_core_requests_total counter"));
    let m = samples(&text);
    for (route, sent) in MIX {
        let count = format!("vexfs_request_duration_seconds_count{{route=\"{route}\"}}");
        assert_eq!(m.get(&count), Some(&(sent as f64)), "{count} in\n{text}");
        let inf = format!("vexfs_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}}");
        assert_eq!(m.get(&inf), Some(&(sent as f64)), "{inf}");
        let sum = format!("vexfs_request_duration_seconds_sum{{route=\"{route}\"}}");
        assert!(m[&sum] > 0.0, "{sum}");
        let ten_s = format!("vexfs_request_duration_seconds_bucket{{route=\"{route}\",le=\"10\"}}");
        assert!(m[&ten_s] <= sent as f64);
    }
    let core_total: f64 = (0..2)
        .map(|c| m[&format!("vexfs_core_requests_total{{core=\"{c}\"}}")])
        .sum();
    assert!(core_total >= sent as f64);

    // Reset zeroes every core.
    let r = send(&s, "POST", "/admin/latency/reset", None, "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["result"], true);
    let result = latency(&s, None);
    for (route, _) in MIX {
        assert_eq!(count_of(&result, route), 0, "{route}: {result}");
        assert_eq!(result["routes"][route]["max"], 0, "{route}");
    }
    // Only the reset request itself, measured once it was answered, i.e. after the reset.
    let after: u64 = result["cores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(after, 1, "{result}");
    assert_eq!(count_of(&result, "admin"), 1, "{result}");
    let m = samples(&send(&s, "GET", "/metrics", None, "").text());
    assert_eq!(
        m.get("vexfs_request_duration_seconds_count{route=\"search\"}"),
        Some(&0.0)
    );

    // Counting starts again from zero.
    for _ in 0..3 {
        let body = r#"{"vector":[0,1],"limit":1}"#;
        assert_eq!(
            send(&s, "POST", "/collections/m/points/search", None, body).status,
            200
        );
    }
    assert_eq!(count_of(&latency(&s, None), "search"), 3);
}

#[test]
fn admin_routes_need_the_api_key_but_the_dashboard_page_does_not() {
    let s = Server::start_with_config(
        "[service]\napi_key = \"rw-key\"\nread_only_api_key = \"ro-key\"\n",
    );
    send_mix(&s, Some("rw-key"));

    let r = send(&s, "GET", "/admin/latency", None, "");
    assert_eq!(r.status, 401);
    assert!(r.json()["status"]["error"]
        .as_str()
        .unwrap()
        .contains("API key"));
    assert_eq!(
        send(&s, "GET", "/admin/latency", Some("nope"), "").status,
        401
    );
    assert_eq!(
        send(&s, "GET", "/admin/latency?format=hdr", None, "").status,
        401
    );
    assert_eq!(send(&s, "GET", "/metrics", None, "").status, 401);
    let result = latency(&s, Some("ro-key"));
    assert_eq!(count_of(&result, "search"), 5);

    // Reset is a write.
    assert_eq!(
        send(&s, "POST", "/admin/latency/reset", None, "").status,
        401
    );
    assert_eq!(
        send(&s, "POST", "/admin/latency/reset", Some("ro-key"), "").status,
        403
    );
    assert_eq!(count_of(&latency(&s, Some("ro-key")), "search"), 5);
    assert_eq!(
        send(&s, "POST", "/admin/latency/reset", Some("rw-key"), "").status,
        200
    );
    assert_eq!(count_of(&latency(&s, Some("rw-key")), "search"), 0);

    // The page and its files hold no data; the page asks for the key itself.
    for (path, ty) in [
        ("/admin/dashboard", "text/html; charset=utf-8"),
        ("/admin/dashboard.js", "text/javascript; charset=utf-8"),
        ("/admin/dashboard.css", "text/css; charset=utf-8"),
    ] {
        let r = send(&s, "GET", path, None, "");
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(ty), "{path}");
        let text = r.text();
        // Served from the binary, nothing fetched from elsewhere.
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{path}"
        );
    }
    let page = send(&s, "GET", "/admin/dashboard", None, "").text();
    assert!(page.contains("<canvas") && page.contains("dashboard.js"));
}

#[test]
fn unknown_admin_paths_and_methods() {
    let s = Server::start();
    let r = send(&s, "GET", "/admin/nope", None, "");
    assert_eq!(r.status, 404);
    assert!(r.json()["status"]["error"].is_string());
    assert_eq!(
        send(&s, "GET", "/admin/latency/reset", None, "").status,
        405
    );
    assert_eq!(send(&s, "DELETE", "/admin/latency", None, "").status, 405);
    // Not under /admin/: the API router's 404.
    assert_eq!(send(&s, "GET", "/administrator", None, "").status, 404);
    // Admin requests are measured under their own label, apart from the API's routes.
    let result = latency(&s, None);
    assert!(count_of(&result, "admin") >= 3, "{result}");
    assert!(count_of(&result, "other") >= 1, "{result}");
}

#[test]
fn a_separate_admin_port_takes_the_admin_routes_off_the_api_port() {
    let admin_port = common::free_port();
    let s = Server::start_with_config(&format!("[admin]\nport = {admin_port}\n"));
    let on_admin = |method: &str, path: &str| {
        common::try_request(admin_port, method, path, b"").expect("admin port answers")
    };
    let r = send(
        &s,
        "PUT",
        "/collections/a",
        None,
        r#"{"vectors":{"size":2,"distance":"Dot"}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let r = send(&s, "GET", "/collections/a", None, "");
    assert_eq!(r.status, 200, "{}", r.text());

    // The admin port: latency (which counted the API port's requests), metrics, probes.
    let r = on_admin("GET", "/admin/latency");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        count_of(&r.json()["result"], "get_collection") >= 1,
        "{}",
        r.text()
    );
    let r = on_admin("GET", "/metrics");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("vexfs_"), "{}", r.text());
    assert_eq!(on_admin("GET", "/healthz").status, 200);
    assert_eq!(on_admin("GET", "/admin/dashboard").status, 200);
    // … and nothing of Qdrant's API.
    assert_eq!(on_admin("GET", "/collections").status, 404);
    assert_eq!(on_admin("GET", "/collections/a").status, 404);

    // The API port no longer answers the admin routes.
    assert_eq!(send(&s, "GET", "/admin/latency", None, "").status, 404);
    assert_eq!(send(&s, "GET", "/metrics", None, "").status, 404);
    assert_eq!(send(&s, "GET", "/healthz", None, "").status, 200);
}
