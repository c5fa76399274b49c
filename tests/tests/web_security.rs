//! The relay's web side against attacks from a browser and from the network, on a real relay
//! process over plain HTTP/1.1 (and https): a sign-in or sign-out posted from another site is
//! refused, `/metrics` takes a bearer token when the operator sets one, the public map refuses
//! bad filters with the reason, and a relay serving TLS sends Strict-Transport-Security on
//! every response.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use groundwork_tests::{Res, bin, http_get};

/// An HTTP response: status, headers (lower-cased names), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request on `stream` (`Connection: close`: the body ends where the stream does).
fn request(
    mut stream: impl Read + Write,
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    form: Option<&str>,
) -> Res<Reply> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(form) = form {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            form.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(form.unwrap_or(""));
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            // A TLS peer that closes without close_notify: the response was complete
            // (Connection: close), so its end is the end.
            Err(e) if e.kind() == ErrorKind::UnexpectedEof && !raw.is_empty() => break,
            Err(e) => return Err(e.into()),
        }
    }
    let text = String::from_utf8(raw)?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .ok_or("no status")?
        .parse()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// A request over plain HTTP to `addr` (`HOST:PORT`).
fn plain(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    form: Option<&str>,
) -> Res<Reply> {
    let stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    request(stream, addr, method, path, headers, form)
}

/// A relay process, killed when dropped. Started here rather than with the shared helper for
/// its environment (the metrics token's preferred way in) and because it drains the relay's
/// stdout past the "listening on" line: the relay prints more there, and a closed pipe would
/// stop it.
struct Relay {
    child: Child,
    addr: String,
}

impl Relay {
    fn start(data: &Path, args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> Res<Self> {
        use std::io::BufRead;
        let mut child = Command::new(bin("groundwork-relay"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .arg("--data")
            .arg(data)
            .envs(env.iter().copied())
            .env("GROUNDWORK_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut stdout = std::io::BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line)?;
        std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or_else(|| format!("unexpected first line {line:?}"))?
            .to_owned();
        Ok(Relay { child, addr })
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn metrics_take_a_token_when_asked_and_the_map_refuses_bad_filters() -> Res<()> {
    let root = tempfile::tempdir()?;
    let token = "metrics-token-for-this-test";
    // From the environment, as the help says to pass it (argv is visible in ps).
    let relay = Relay::start(
        &root.path().join("private"),
        &[],
        &[("GROUNDWORK_METRICS_TOKEN", token)],
    )?;
    let metrics = |headers: &[(&str, &str)]| plain(&relay.addr, "GET", "/metrics", headers, None);
    let none = metrics(&[])?;
    assert_eq!(none.status, 401, "{}", none.body);
    assert!(none.body.contains("metrics are private"), "{}", none.body);
    assert_eq!(none.header("www-authenticate"), Some("Bearer"));
    assert!(!none.body.contains("groundwork_"));
    for wrong in [
        "Bearer wrong",
        "Bearer metrics-token-for-this-tes",
        "Basic bWV0cmljcw==",
    ] {
        let reply = metrics(&[("Authorization", wrong)])?;
        assert_eq!(reply.status, 401, "{wrong}");
        assert!(
            reply.body.contains("wrong token"),
            "{wrong}: {}",
            reply.body
        );
    }
    let right = metrics(&[("Authorization", &format!("Bearer {token}"))])?;
    assert_eq!(right.status, 200, "{}", right.body);
    assert!(right.body.contains("groundwork_"), "{}", right.body);
    // Only /metrics is behind it.
    assert_eq!(http_get(&relay.addr, "/healthz")?.0, 200);
    assert_eq!(http_get(&relay.addr, "/map")?.0, 200);

    // The public map refuses wrong filters with the reason.
    for (query, why) in [
        ("state=ZZ", "state \"ZZ\" is not a US state"),
        ("county=abc", "\"abc\" is not a 5-digit county FIPS code"),
    ] {
        let (status, body) = http_get(&relay.addr, &format!("/map?{query}"))?;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.contains(why), "{query}: {body}");
    }

    // By default /metrics stays public (tests and the benchmarks read it), and plain HTTP
    // sends no HSTS.
    let open = Relay::start(&root.path().join("public"), &[], &[])?;
    let reply = plain(&open.addr, "GET", "/metrics", &[], None)?;
    assert_eq!(reply.status, 200);
    assert!(reply.body.contains("groundwork_"));
    assert_eq!(reply.header("strict-transport-security"), None);
    // The flag works as the variable does.
    drop(open);
    let flagged = Relay::start(
        &root.path().join("flagged"),
        &["--metrics-token".as_ref(), token.as_ref()],
        &[],
    )?;
    assert_eq!(http_get(&flagged.addr, "/metrics")?.0, 401);
    Ok(())
}

#[test]
fn sign_in_and_sign_out_posted_from_another_site_are_refused() -> Res<()> {
    let root = tempfile::tempdir()?;
    let relay = Relay::start(&root.path().join("relay"), &[], &[])?;
    let own = format!("http://{}", relay.addr);
    for (path, headers, why) in [
        (
            "/campaign/login",
            vec![("Origin", "http://evil.example")],
            "came from a page on http://evil.example",
        ),
        (
            "/campaign/login",
            vec![("Sec-Fetch-Site", "cross-site")],
            "Sec-Fetch-Site: cross-site",
        ),
        (
            "/campaign/login",
            vec![
                ("Sec-Fetch-Site", "same-site"),
                ("Origin", "http://127.0.0.1:1"),
            ],
            "Sec-Fetch-Site: same-site",
        ),
        (
            "/campaign/logout",
            vec![("Origin", "http://evil.example")],
            "came from a page on http://evil.example",
        ),
    ] {
        let reply = plain(&relay.addr, "POST", path, &headers, Some("code=whatever"))?;
        assert_eq!(reply.status, 403, "{path} {headers:?}: {}", reply.body);
        assert!(
            reply.body.contains(why),
            "{path} {headers:?}: {}",
            reply.body
        );
        assert!(reply.header("set-cookie").is_none());
    }
    // From the relay's own page, or from a tool sending neither header, the request reaches
    // the sign-in (which refuses this made-up link for what it is).
    for headers in [
        vec![("Origin", own.as_str()), ("Sec-Fetch-Site", "same-origin")],
        vec![],
    ] {
        let reply = plain(
            &relay.addr,
            "POST",
            "/campaign/login",
            &headers,
            Some("code=whatever"),
        )?;
        assert_eq!(reply.status, 401, "{headers:?}: {}", reply.body);
        assert!(
            reply.body.contains("not one the relay made"),
            "{}",
            reply.body
        );
    }
    Ok(())
}

#[test]
fn a_relay_serving_tls_sends_hsts_on_every_response() -> Res<()> {
    let root = tempfile::tempdir()?;
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()])?;
    let cert_file = root.path().join("relay.pem");
    let key_file = root.path().join("relay-tls.key");
    std::fs::write(&cert_file, cert.cert.pem())?;
    std::fs::write(&key_file, cert.key_pair.serialize_pem())?;
    let relay = Relay::start(
        &root.path().join("relay"),
        &[
            "--tls-cert".as_ref(),
            cert_file.as_os_str(),
            "--tls-key".as_ref(),
            key_file.as_os_str(),
        ],
        &[],
    )?;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone())?;
    let config = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let https = |method: &str, path: &str| -> Res<Reply> {
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1")?;
        let tcp = TcpStream::connect(&relay.addr)?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        let tls =
            rustls::StreamOwned::new(rustls::ClientConnection::new(config.clone(), name)?, tcp);
        request(tls, &relay.addr, method, path, &[], None)
    };
    // The sync endpoint's neighbours, the pages, a refusal and a page that is not there.
    for (method, path, status) in [
        ("GET", "/healthz", 200),
        ("GET", "/metrics", 200),
        ("GET", "/map", 200),
        ("GET", "/campaign", 401),
        ("GET", "/v1/sync", 400),
        ("GET", "/no-such-page", 404),
        ("POST", "/campaign/logout", 303),
    ] {
        let reply = https(method, path)?;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
        assert_eq!(
            reply.header("strict-transport-security"),
            Some("max-age=31536000"),
            "{method} {path}"
        );
    }
    Ok(())
}
