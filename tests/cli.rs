//! Start-up failures: each is one clear line on stderr and a non-zero exit, never a panic.

mod common;

use std::process::Command;

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vexfs-unified-server"))
        .args(args)
        .output()
        .expect("run binary");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_config_files_are_one_line_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("[server]\nprot = 1\n", "prot"),
        ("[server]\nport = \"high\"\n", "port"),
        ("[dialects]\nnative = true\n", "native"),
        ("[runtime]\ncores = 4096\n", "cores"),
    ];
    for (text, needle) in cases {
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).expect("write");
        let (ok, err) = run(&[
            "--config",
            path.to_str().expect("utf8"),
            "--storage-path",
            dir.path().join("s").to_str().expect("utf8"),
        ]);
        assert!(!ok, "{text} was accepted");
        assert!(err.contains(needle), "{text}: {err}");
        let errors: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("vexfs-unified-server: "))
            .collect();
        assert_eq!(errors.len(), 1, "{err}");
        assert!(errors[0].contains(needle), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let (ok, err) = run(&["--config", "/nonexistent/x.toml"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent/x.toml"), "{err}");
}

#[test]
fn busy_port_and_unwritable_storage_fail_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port().to_string();
    let storage = dir.path().join("s");
    let (ok, err) = run(&[
        "--port",
        &port,
        "--storage-path",
        storage.to_str().expect("utf8"),
    ]);
    assert!(!ok);
    assert!(err.contains(&port), "{err}");
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").expect("write");
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
        .to_string();
    let (ok, err) = run(&[
        "--port",
        &free,
        "--storage-path",
        file.join("sub").to_str().expect("utf8"),
    ]);
    assert!(!ok);
    assert!(err.contains("storage.path"), "{err}");
}

#[test]
fn help_and_version() {
    let (ok, _) = run(&["--version"]);
    assert!(ok);
    let out = Command::new(env!("CARGO_BIN_EXE_vexfs-unified-server"))
        .arg("--help")
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in ["--config", "--port", "--host", "--storage-path", "--cores"] {
        assert!(text.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn second_server_on_same_storage_is_refused() {
    let first = common::Server::start();
    let port = common::free_port().to_string();
    let (ok, err) = run(&[
        "--port",
        &port,
        "--storage-path",
        first.storage().to_str().expect("utf8"),
    ]);
    assert!(!ok, "second server started on the same storage");
    assert!(err.contains("in use by another"), "{err}");
    assert_eq!(first.request("GET", "/healthz", "").status, 200);
}
