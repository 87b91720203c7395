use super::*;
use crate::engine::memory_host::MemoryHost;
use crate::model::{Connection, ResponseHead};

fn request() -> Request {
    Request {
        id: "req-1".into(),
        method: "POST".into(),
        scheme: "https".into(),
        authority: "api.example.com:8443".into(),
        path: "/v1/chat".into(),
        query: "a=1&b=two&a=3".into(),
        version: "HTTP/1.1".into(),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-team".into(), "blue".into()),
            ("x-team".into(), "red".into()),
        ],
        body: br#"{"model":"gpt-4o"}"#.to_vec(),
        conn: Connection {
            client_ip: "10.1.2.3".into(),
            client_port: 5555,
            server_ip: "127.0.0.1".into(),
            server_port: 8443,
            tls: None,
        },
        received_at_ms: 1_700_000_000_000,
    }
}

fn eval_with(src: &str, scope: Scope, res: Option<&ResponseHead>) -> Result<Value, String> {
    let host = MemoryHost::new().with_secret("vault", "token", "s3cret");
    let mut env = CelEnv::new(false).unwrap();
    let expr = env.compile(src, scope, &host)?;
    let req = request();
    let endpoint = EndpointInfo {
        id: "ep1".into(),
        url: "https://api.example.com".into(),
        host: "api.example.com".into(),
        port: 443,
        protocol: "https".into(),
    };
    let data = RequestData::new(&req, &endpoint, res);
    let mut bindings = Bindings::default();
    bindings
        .vars
        .insert("tier".into(), convert::string_value("gold"));
    let act = Activation {
        data: &data,
        bindings: &bindings,
    };
    env.evaluator().eval(&expr, &act)
}

fn eval(src: &str) -> Value {
    eval_with(src, Scope::Request, None).unwrap_or_else(|e| panic!("{src}: {e}"))
}

fn is_true(src: &str) {
    assert_eq!(eval(src), Value::Bool(true), "{src}");
}

#[test]
fn request_variables() {
    is_true("req.method == 'POST'");
    is_true("req.url.path == '/v1/chat'");
    is_true("req.url.host == 'api.example.com' && req.host == 'api.example.com'");
    is_true("req.url.port == 8443");
    is_true("req.url.scheme == 'https'");
    is_true("req.url.query == 'a=1&b=two&a=3'");
    is_true("req.url == 'https://api.example.com:8443/v1/chat?a=1&b=two&a=3'");
    is_true("req.headers['x-team'] == ['blue', 'red']");
    is_true("req.query_params['a'] == ['1', '3']");
    is_true("req.url.query_params.b == ['two']");
    is_true("req.content_type == 'application/json'");
    is_true("req.content_length == 18");
    is_true("req.id == 'req-1'");
    is_true("req.body.contains('gpt-4o')");
    is_true("req.url.path.startsWith('/v1') && req.headers['x-team'][0] == 'blue'");
    is_true("'x-team' in req.headers");
    is_true("req.method == req['method']");
    is_true("req.ts.header_received == timestamp('2023-11-14T22:13:20Z')");
    is_true("req.content_encoding == [] && req.location == ''");
}

#[test]
fn connection_endpoint_time_and_vars() {
    is_true("conn.client_ip == '10.1.2.3' && conn.client_port == 5555");
    is_true("conn.tls == null");
    is_true("endpoint.id == 'ep1' && endpoint.port == 443");
    is_true("time.now == '2023-11-14T22:13:20.000Z'");
    is_true("vars.tier == 'gold'");
}

#[test]
fn request_helper_functions() {
    is_true("getReqHeader('X-Team') == ['blue', 'red']");
    is_true("hasReqHeader('x-team') && !hasReqHeader('x-none')");
    is_true("getQueryParam('a') == ['1', '3'] && getQueryParam('zz') == []");
    is_true("inCidrRange(conn.client_ip, '10.0.0.0/8')");
    is_true("!inCidrRange('192.168.1.1', '10.0.0.0/8')");
    is_true("inCidrRanges(conn.client_ip, ['1.1.1.1/32', '10.1.0.0/16'])");
}

#[test]
fn encoding_hashing_and_random_functions() {
    is_true("json.decode(req.body).model == 'gpt-4o'");
    is_true("json.encode({'a': 1}) == '{\"a\":1}'");
    is_true("base64.encode('hi') == 'aGk='");
    is_true("base64.decode('aGk=') == 'hi'");
    is_true(
        "hash.sha256('abc') == 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'",
    );
    is_true("'abc'.sha256() == hash.sha256('abc')");
    is_true("rand.int(1, 3) >= 1 && rand.int(1, 3) <= 3");
    is_true("rand.double() >= 0.0 && rand.double() < 1.0");
    is_true("secrets.get('vault', 'token') == 's3cret'");
    is_true("basic_auth.encode('u', 'p') == 'dTpw'");
    is_true("hash.sha512('abc').startsWith('ddaf35a193617aba')");
    is_true("conn.client_ip.isPrivateIp() && !'8.8.8.8'.isPrivateIp() && '::1'.isPrivateIp()");
}

#[test]
fn string_extensions() {
    is_true("'AbC'.lower() == 'abc' && 'AbC'.upper() == 'ABC'");
    is_true("'a,b'.split(',') == ['a', 'b']");
    is_true("'aXa'.replace('X', 'y') == 'aya'");
    is_true("'  x '.trim() == 'x'");
    is_true("'abc123'.matches('^[a-z]+[0-9]+$')");
    is_true("'hello'.startsWith('he') && 'hello'.endsWith('lo') && 'hello'.contains('ell')");
    is_true("['a', 'b'].join('-') == 'a-b'");
}

/// `max`, `min` and `quote` come from the shared environment: strategies accepted them
/// before rules did, and now both run them.
#[test]
fn shared_helpers_are_callable_in_rules() {
    is_true("max(1, req.content_length) == 18");
    is_true("min([3, 1, 2]) == 1");
    is_true("quote(req.method) == '\"POST\"'");
}

#[test]
fn response_variables_exist_only_in_response_scope() {
    let res = ResponseHead {
        status: 502,
        headers: vec![("x-up".into(), "1".into())],
    };
    let v = eval_with(
        "res.status_code == 502 && res.headers['x-up'] == ['1'] && getResHeader('x-up') == ['1']",
        Scope::Response,
        Some(&res),
    )
    .unwrap();
    assert_eq!(v, Value::Bool(true));
    let err = eval_with("res.status_code == 502", Scope::Request, None).unwrap_err();
    assert!(err.contains("only available in on_http_response"), "{err}");
}

#[test]
fn unknown_names_and_bad_syntax_fail_at_compile() {
    let host = MemoryHost::new();
    let mut env = CelEnv::new(false).unwrap();
    let err = env.compile("nosuch(1)", Scope::Request, &host).unwrap_err();
    assert!(err.contains("unknown function `nosuch`"), "{err}");
    let err = env
        .compile("req.methd == 'GET'", Scope::Request, &host)
        .unwrap_err();
    assert!(err.contains("unknown variable `req.methd`"), "{err}");
    let err = env.compile("foo == 1", Scope::Request, &host).unwrap_err();
    assert!(err.contains("unknown variable `foo`"), "{err}");
    let err = env
        .compile("req.method ==", Scope::Request, &host)
        .unwrap_err();
    assert!(err.starts_with("invalid CEL expression"), "{err}");
    let err = env
        .compile("1 + 'a' == 2", Scope::Request, &host)
        .unwrap_err();
    assert!(err.contains("fails"), "{err}");
    let err = env
        .compile("json.nosuch(1)", Scope::Request, &host)
        .unwrap_err();
    assert!(err.contains("unknown function `json.nosuch`"), "{err}");
}

#[test]
fn missing_secrets_are_errors_unless_check_only() {
    let host = MemoryHost::new();
    let mut env = CelEnv::new(false).unwrap();
    let err = env
        .compile("secrets.get('v', 'n') == 'x'", Scope::Request, &host)
        .unwrap_err();
    assert!(err.contains("secret `v/n` not found"), "{err}");

    let mut env = CelEnv::new(true).unwrap();
    let t = env
        .compile_template("${secrets.get('v', 'n')}", Scope::Request, &host)
        .unwrap();
    assert_eq!(env.take_warnings().len(), 1);
    assert_eq!(env.render_static(&t).unwrap(), "<secret v/n>");
}

#[test]
fn whole_interpolation_keeps_type_and_embedded_becomes_string() {
    let host = MemoryHost::new();
    let mut env = CelEnv::new(false).unwrap();
    let whole = env
        .compile_template("${[1, 2]}", Scope::Request, &host)
        .unwrap();
    let embedded = env
        .compile_template("n=${1 + 1}, l=${[1]}", Scope::Request, &host)
        .unwrap();
    let plain = env
        .compile_template("no exprs", Scope::Request, &host)
        .unwrap();
    let req = request();
    let endpoint = EndpointInfo::default();
    let data = RequestData::new(&req, &endpoint, None);
    let bindings = Bindings::default();
    let act = Activation {
        data: &data,
        bindings: &bindings,
    };
    let ev = env.evaluator();
    assert_eq!(
        convert::cel_to_json(&ev.render(&whole, &act).unwrap()).unwrap(),
        serde_json::json!([1, 2])
    );
    assert_eq!(ev.render_string(&embedded, &act).unwrap(), "n=2, l=[1]");
    assert_eq!(ev.render_string(&plain, &act).unwrap(), "no exprs");
}

mod cost {
    use super::*;
    #[test]
    #[ignore = "measurement"]
    fn expr_costs() {
        use std::time::Instant;
        let host = MemoryHost::new();
        let req = request();
        let endpoint = EndpointInfo::default();
        for src in [
            "true",
            "req.method == 'POST'",
            "req.url.path.startsWith('/v1')",
            "req.method in ['GET', 'POST']",
            "inCidrRange(conn.client_ip, '10.0.0.0/8')",
            "hasReqHeader('x-team')",
            "getReqHeader('x-team')[0].lower().contains('bot')",
            "req.headers['x-team'][0] == 'blue'",
            "req.id",
        ] {
            let mut env = CelEnv::new(false).unwrap();
            let expr = env.compile(src, Scope::Request, &host).unwrap();
            let ev = env.evaluator();
            let n = 20_000u32;
            let start = Instant::now();
            for _ in 0..n {
                let data = RequestData::new(&req, &endpoint, None);
                let bindings = Bindings::default();
                let act = Activation {
                    data: &data,
                    bindings: &bindings,
                };
                std::hint::black_box(ev.eval(&expr, &act).unwrap());
            }
            println!("{:>60}: {:?}", src, start.elapsed() / n);
        }
    }
}

#[test]
fn tls_facts_and_query_helpers() {
    let host = MemoryHost::new();
    let mut env = CelEnv::new(false).unwrap();
    let expr = env
        .compile(
            "conn.tls.version == 'TLSv1.3' && conn.tls.sni == 'api.example.com' && conn.tls.negotiated_alpn == null && hasQueryParam('b') && !hasQueryParam('B') && getQueryParam('b') == ['two']",
            Scope::Request,
            &host,
        )
        .unwrap();
    let mut req = request();
    req.conn.tls = Some(crate::model::TlsInfo {
        version: "TLSv1.3".into(),
        cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
        sni: Some("api.example.com".into()),
        negotiated_alpn: None,
    });
    let endpoint = EndpointInfo::default();
    let data = RequestData::new(&req, &endpoint, None);
    let bindings = Bindings::default();
    let act = Activation {
        data: &data,
        bindings: &bindings,
    };
    assert_eq!(
        env.evaluator().eval(&expr, &act).unwrap(),
        Value::Bool(true)
    );
    // The whole `req` map, as an ai-gateway strategy reads it.
    let whole = act.value("req").unwrap();
    let json = convert::cel_to_json(&whole).unwrap();
    assert_eq!(json["url"]["path"], "/v1/chat");
    assert_eq!(
        json["headers"]["x-team"],
        serde_json::json!(["blue", "red"])
    );
}
