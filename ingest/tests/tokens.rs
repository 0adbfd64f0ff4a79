//! Bearer tokens as an operator sets them up and a client presents them:
//! a `token_env` value with a trailing newline still matches, the scheme
//! is accepted in any case, an empty token never authenticates, failures
//! are logged with the peer and never the token, and `check-config`
//! refuses the SHA-256 of the empty string and short tokens.
mod support;
use std::process::Command;
use support::*;

const TOKEN: &str = "gw-3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e";

#[test]
fn tokens_as_operators_set_them_and_clients_present_them() {
    // Its own process's environment: this file holds one test.
    std::env::set_var("HOTLINE_TEST_GATEWAY_TOKEN", format!("{TOKEN}\n"));
    std::env::set_var("HOTLINE_TEST_SHORT_TOKEN", "short");
    let dir = temp_dir("tokens");

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[[auth.tokens]]\nrole = \"gateway\"\nsha256 = \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"\n\
         [[auth.tokens]]\nrole = \"dashboard\"\ntoken_env = \"HOTLINE_TEST_SHORT_TOKEN\"\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&bad)
        .output()
        .expect("check-config");
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("SHA-256 of the empty string"), "{text}");
    let short = dir.join("short.toml");
    std::fs::write(
        &short,
        "[[auth.tokens]]\nrole = \"dashboard\"\ntoken_env = \"HOTLINE_TEST_SHORT_TOKEN\"\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&short)
        .output()
        .expect("check-config");
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("at least 32"), "{text}");

    let d = Daemon::start_in(
        &dir,
        Some("[[auth.tokens]]\nrole = \"gateway\"\ntoken_env = \"HOTLINE_TEST_GATEWAY_TOKEN\"\n"),
    );
    let submit = |auth: &str, id: &str| -> Result<(), tonic::Code> {
        rt().block_on(async {
            let mut req = tonic::Request::new(contact(id, "小区路灯坏了好几天了"));
            req.metadata_mut()
                .insert("authorization", auth.parse().expect("header value"));
            d.client()
                .await
                .submit(req)
                .await
                .map(|_| ())
                .map_err(|s| s.code())
        })
    };
    submit(&format!("Bearer {TOKEN}"), "tok-1").expect("the token without its newline");
    submit(&format!("BEARER {TOKEN}"), "tok-2").expect("the scheme in capitals");
    submit(&format!("bearer  {TOKEN} "), "tok-3").expect("spaces around");
    for bad in [
        "Bearer ",
        "Bearer     ",
        "Basic abc",
        "Bearer wrong-token-of-sufficient-length-0000",
    ] {
        let e = submit(bad, "tok-x").expect_err(bad);
        assert_eq!(e, tonic::Code::Unauthenticated, "{bad:?}");
    }
    let status = d.terminate();
    assert!(status.success());
    let log = std::fs::read_to_string(dir.join("hotlined.log")).expect("log");
    assert!(log.contains("authentication failed"), "{log}");
    assert!(log.contains("127.0.0.1"), "the peer is named: {log}");
    assert!(!log.contains("wrong-token"), "never the token: {log}");
    assert!(!log.contains(TOKEN), "never the token: {log}");
}
