//! The failover matrix as one table of cases, each run through the real edge binary twice:
//! over plain-HTTP `.internal` providers and over HTTPS providers with certificates from a
//! test CA. Every case asserts the attempts the providers saw (order, model, credential, path),
//! each attempt's status and failover decision (the access log's `attempts`), the client's
//! status, body and headers (`x-aigw-attempts`, `x-aigw-provider`, `x-aigw-model`, the error
//! code header), and where it matters the time the client waited and the attempt metrics.
//!
//! How an attempt failed (connect, DNS, TLS, timeout) is visible to a client only when every
//! attempt failed: the error message names each failed attempt with its failure kind, so the
//! table has an "…everywhere" case per kind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use edge_test_support::ai::{ProviderCfg, ai_policy, chat, messages};
use edge_test_support::client::{Reply, StreamReply};
use edge_test_support::http_server::closed_port;
use edge_test_support::providers::ProviderBuilder;
use edge_test_support::sse::stream_text;
use edge_test_support::{Client, Edge, MockProvider, TestCa, provider};
use serde_json::{Value, json};

use crate::edge;

/// The header carrying an error's code (equal to the body's `error.code` in the gateway's
/// own error bodies).
const ERROR_CODE_HEADER: &str = "x-edge-error-code";

/// A provider's rejection with the detail SDKs and applications branch on (`code`), longer
/// than the 300 bytes the gateway once quoted, with a character that a byte cut would split.
const REJECTION: &str = r#"{"error":{"message":"This model's maximum context length is 8192 tokens. However, your messages resulted in 9120 tokens. Please reduce the length of the messages — or use a model with a longer context window; see the documentation for the context length of each model, and consider trimming earlier turns of the conversation.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;

/// One row of the table.
#[derive(Default)]
struct Case {
    name: &'static str,
    /// In policy order; the request asks for the first one's model with the others as
    /// fallbacks. Each provider serves one model, `<name>-model`.
    mocks: Vec<Mock>,
    /// Extra ai-gateway config fields (timeouts).
    config: Vec<(&'static str, Value)>,
    stream: bool,
    /// `/v1/messages` (Anthropic) instead of `/v1/chat/completions`.
    anthropic: bool,
    /// `provider/model/credential` of every request the providers received, in order
    /// (`-` when the policy configured no key).
    tried: Vec<&'static str>,
    /// `provider/model=status:decision` of every attempt, from the access log.
    trail: Vec<&'static str>,
    expect: Expect,
    /// The client's wait, in ms: at least, below.
    took: Option<(u64, u64)>,
    /// Response headers that must have this value (`None`: must be absent).
    headers: Vec<(&'static str, Option<&'static str>)>,
    /// Lines the admin `/metrics` must contain afterwards.
    metrics: Vec<&'static str>,
}

#[derive(Default)]
enum Expect {
    /// 200 from `by` after `attempts` attempts, the body being that provider's own answer.
    Served { by: &'static str, attempts: u32 },
    /// 200 from `by`, its body passed through byte for byte.
    ServedExactly {
        by: &'static str,
        attempts: u32,
        body: &'static str,
    },
    /// A gateway error in OpenAI shape: status, code (header = body), a message naming
    /// `message_has`.
    Error {
        status: u16,
        attempts: u32,
        code: &'static str,
        message_has: &'static [&'static str],
    },
    /// The provider's own 4xx, passed on at once: its status, body (byte for byte) and
    /// content type, with the gateway's headers.
    PassedThrough {
        status: u16,
        attempts: u32,
        body: &'static str,
        content_type: &'static str,
    },
    /// A gateway error in Anthropic shape.
    AnthropicError { status: u16 },
    /// A complete stream from `by`, ending with `[DONE]`; `hidden` never reaches the client.
    Streamed {
        by: &'static str,
        attempts: u32,
        hidden: Option<&'static str>,
    },
    /// A stream from `by` that broke after its first bytes: `text` arrived, then an error event.
    StreamBroken {
        by: &'static str,
        text: &'static str,
    },
    #[default]
    Unset,
}

/// A provider of a case.
struct Mock {
    name: &'static str,
    keys: &'static [&'static str],
    formats: &'static [&'static str],
    kind: MockKind,
}

enum MockKind {
    /// A mock provider (plain or HTTPS by transport) answering by this script.
    Live(fn(ProviderBuilder) -> ProviderBuilder),
    /// `<name>.internal` maps to a port nothing listens on.
    Refused,
    /// HTTPS with a certificate from a CA the edge does not trust. Over the plain transport
    /// that is still a TLS failure: the edge speaks https:// to it.
    Untrusted,
    /// A host name that does not resolve.
    NoSuchHost,
}

fn live(name: &'static str, script: fn(ProviderBuilder) -> ProviderBuilder) -> Mock {
    Mock {
        name,
        keys: &[],
        formats: &[],
        kind: MockKind::Live(script),
    }
}

fn ok(name: &'static str) -> Mock {
    live(name, |p| p)
}

fn broken(name: &'static str, kind: MockKind) -> Mock {
    Mock {
        name,
        keys: &[],
        formats: &[],
        kind,
    }
}

impl Mock {
    fn keys(mut self, keys: &'static [&'static str]) -> Self {
        self.keys = keys;
        self
    }
    fn formats(mut self, formats: &'static [&'static str]) -> Self {
        self.formats = formats;
        self
    }
}

fn case(name: &'static str) -> Case {
    Case {
        name,
        ..Case::default()
    }
}

impl Case {
    fn mock(mut self, m: Mock) -> Self {
        self.mocks.push(m);
        self
    }
    fn set(mut self, key: &'static str, value: Value) -> Self {
        self.config.push((key, value));
        self
    }
    fn streaming(mut self) -> Self {
        self.stream = true;
        self
    }
    fn anthropic(mut self) -> Self {
        self.anthropic = true;
        self
    }
    fn tried(mut self, tried: &[&'static str]) -> Self {
        self.tried = tried.to_vec();
        self
    }
    fn trail(mut self, trail: &[&'static str]) -> Self {
        self.trail = trail.to_vec();
        self
    }
    fn expect(mut self, expect: Expect) -> Self {
        self.expect = expect;
        self
    }
    fn took(mut self, at_least_ms: u64, below_ms: u64) -> Self {
        self.took = Some((at_least_ms, below_ms));
        self
    }
    fn header(mut self, name: &'static str, value: Option<&'static str>) -> Self {
        self.headers.push((name, value));
        self
    }
    fn metric(mut self, line: &'static str) -> Self {
        self.metrics.push(line);
        self
    }
}

fn table() -> Vec<Case> {
    use Expect::*;
    vec![
        case("success_passes_body_and_headers_through")
            .mock(
                live("a", |p| {
                    p.body("{\"ok\":true}")
                        .header("openai-processing-ms", "42")
                        .header("x-ratelimit-remaining-requests", "42")
                        .header("connection", "x-hop")
                        .header("x-hop", "1")
                })
                .keys(&["ka1"]),
            )
            .tried(&["a/a-model/ka1"])
            .trail(&["a/a-model=200:succeeded"])
            .expect(ServedExactly {
                by: "a",
                attempts: 1,
                body: "{\"ok\":true}",
            })
            .header("openai-processing-ms", Some("42"))
            // The gateway's key's limits are not the client's (docs/ai-gateway.md,
            // "Header forwarding").
            .header("x-ratelimit-remaining-requests", None)
            .header("x-hop", None)
            .metric(r#"edge_upstream_attempts_total{provider="a",result="succeeded"} 1"#),
        case("connection_refused_moves_to_the_next_model")
            .mock(broken("down", MockKind::Refused).keys(&["kd1", "kd2"]))
            .mock(ok("up"))
            .tried(&["up/up-model/-"])
            .trail(&["down/down-model=-:next_model", "up/up-model=200:succeeded"])
            .expect(Served {
                by: "up",
                attempts: 2,
            })
            .metric(r#"edge_upstream_attempts_total{provider="down",result="next_model"} 1"#),
        case("connection_refused_everywhere_is_a_connect_failure")
            .mock(broken("down", MockKind::Refused))
            .trail(&["down/down-model=-:exhausted"])
            .expect(Error {
                status: 502,
                attempts: 1,
                code: "provider_unreachable",
                message_has: &["down:down-model connect"],
            }),
        case("unresolvable_host_moves_to_the_next_model")
            .mock(broken("nx", MockKind::NoSuchHost))
            .mock(ok("up"))
            .tried(&["up/up-model/-"])
            .trail(&["nx/nx-model=-:next_model", "up/up-model=200:succeeded"])
            .expect(Served {
                by: "up",
                attempts: 2,
            }),
        case("unresolvable_host_everywhere_is_a_dns_failure")
            .mock(broken("nx", MockKind::NoSuchHost))
            .trail(&["nx/nx-model=-:exhausted"])
            .expect(Error {
                status: 502,
                attempts: 1,
                code: "provider_unreachable",
                message_has: &["nx:nx-model dns"],
            }),
        case("tls_failure_moves_to_the_next_model")
            .mock(broken("bad", MockKind::Untrusted))
            .mock(ok("good"))
            .tried(&["good/good-model/-"])
            .trail(&[
                "bad/bad-model=-:next_model",
                "good/good-model=200:succeeded",
            ])
            .expect(Served {
                by: "good",
                attempts: 2,
            }),
        case("tls_failure_everywhere_is_a_tls_failure")
            .mock(broken("bad", MockKind::Untrusted))
            .trail(&["bad/bad-model=-:exhausted"])
            .expect(Error {
                status: 502,
                attempts: 1,
                code: "provider_unreachable",
                message_has: &["bad:bad-model tls"],
            }),
        // A 5xx is the model's fault, not the key's: the second key of `a` is skipped.
        case("status_500_moves_to_the_next_model")
            .mock(live("a", |p| p.status(500)).keys(&["ka1", "ka2"]))
            .mock(ok("b").keys(&["kb1"]))
            .tried(&["a/a-model/ka1", "b/b-model/kb1"])
            .trail(&["a/a-model=500:next_model", "b/b-model=200:succeeded"])
            .expect(Served {
                by: "b",
                attempts: 2,
            }),
        case("status_503_with_short_retry_after_retries_the_same_attempt")
            .mock(live("a", |p| p.status(503).retry_after(1).then()).keys(&["ka1"]))
            .mock(ok("b").keys(&["kb1"]))
            .tried(&["a/a-model/ka1", "a/a-model/ka1"])
            .trail(&["a/a-model=503:retry_same", "a/a-model=200:succeeded"])
            .expect(Served {
                by: "a",
                attempts: 2,
            })
            .took(950, 5_000),
        case("status_503_with_long_retry_after_moves_on")
            .mock(live("a", |p| p.status(503).retry_after(30)))
            .mock(ok("b"))
            .tried(&["a/a-model/-", "b/b-model/-"])
            .trail(&["a/a-model=503:next_model", "b/b-model=200:succeeded"])
            .expect(Served {
                by: "b",
                attempts: 2,
            })
            .took(0, 5_000),
        // 3 s fits under the longest Retry-After waited for (5 s) but not in what is left of
        // a 2 s total timeout.
        case("retry_after_beyond_the_total_timeout_moves_on")
            .mock(live("a", |p| p.status(503).retry_after(30)).keys(&["ka1"]))
            .mock(live("b", |p| p.status(429).retry_after(3)).keys(&["kb1"]))
            .mock(ok("c"))
            .set("total_timeout", json!("2s"))
            .tried(&["a/a-model/ka1", "b/b-model/kb1", "c/c-model/-"])
            .trail(&[
                "a/a-model=503:next_model",
                "b/b-model=429:next_key",
                "c/c-model=200:succeeded",
            ])
            .expect(Served {
                by: "c",
                attempts: 3,
            })
            .took(0, 2_000),
        case("retry_same_happens_at_most_twice")
            .mock(live("a", |p| p.status(503).retry_after(0)).keys(&["ka1"]))
            .tried(&["a/a-model/ka1", "a/a-model/ka1", "a/a-model/ka1"])
            .trail(&[
                "a/a-model=503:retry_same",
                "a/a-model=503:retry_same",
                "a/a-model=503:exhausted",
            ])
            .expect(Error {
                status: 503,
                attempts: 3,
                code: "all_providers_failed",
                message_has: &["a:a-model answered 503"],
            }),
        case("status_429_tries_the_next_key_then_the_next_model")
            .mock(live("a", |p| p.status(429)).keys(&["ka1", "ka2"]))
            .mock(ok("b").keys(&["kb1", "kb2"]))
            .tried(&["a/a-model/ka1", "a/a-model/ka2", "b/b-model/kb1"])
            .trail(&[
                "a/a-model=429:next_key",
                "a/a-model=429:next_key",
                "b/b-model=200:succeeded",
            ])
            .expect(Served {
                by: "b",
                attempts: 3,
            }),
        // The provider rejected the key itself: that key is dropped at that provider.
        case("status_401_tries_the_next_key")
            .mock(live("a", |p| p.status(401).then()).keys(&["ka1", "ka2"]))
            .mock(ok("b").keys(&["kb1"]))
            .tried(&["a/a-model/ka1", "a/a-model/ka2"])
            .trail(&["a/a-model=401:drop_key", "a/a-model=200:succeeded"])
            .expect(Served {
                by: "a",
                attempts: 2,
            }),
        // Every key refused: the client gets 401, which SDKs do not retry, not a 503.
        case("status_401_everywhere_answers_401")
            .mock(live("a", |p| p.status(401)).keys(&["ka1", "ka2"]))
            .mock(live("b", |p| p.status(401)).keys(&["kb1"]))
            .tried(&["a/a-model/ka1", "a/a-model/ka2", "b/b-model/kb1"])
            .trail(&[
                "a/a-model=401:drop_key",
                "a/a-model=401:drop_key",
                "b/b-model=401:exhausted",
            ])
            .expect(Error {
                status: 401,
                attempts: 3,
                code: "authentication_failed",
                message_has: &["a:a-model answered 401", "b:b-model answered 401"],
            }),
        // Every provider out of quota, each asking for more than the edge waits: 429 with the
        // shortest wait asked for.
        case("status_429_everywhere_answers_429_with_the_shortest_retry_after")
            .mock(live("a", |p| p.status(429).retry_after(30)).keys(&["ka1"]))
            .mock(live("b", |p| p.status(429).retry_after(20)).keys(&["kb1"]))
            .tried(&["a/a-model/ka1", "b/b-model/kb1"])
            .trail(&["a/a-model=429:next_key", "b/b-model=429:exhausted"])
            .expect(Error {
                status: 429,
                attempts: 2,
                code: "rate_limited",
                message_has: &["a:a-model answered 429", "b:b-model answered 429"],
            })
            .header("retry-after", Some("20"))
            .header("retry-after-ms", Some("20000")),
        // Two retries of `a` use up calls: the cap of 10 ends the loop with two of b's keys
        // untried.
        case("attempt_cap_cutting_the_plan_short_is_too_many_attempts")
            .mock(live("a", |p| p.status(503).retry_after(0)).keys(&["ka1"]))
            .mock(live("b", |p| p.status(403)).keys(&[
                "kb1", "kb2", "kb3", "kb4", "kb5", "kb6", "kb7", "kb8", "kb9",
            ]))
            .tried(&[
                "a/a-model/ka1",
                "a/a-model/ka1",
                "a/a-model/ka1",
                "b/b-model/kb1",
                "b/b-model/kb2",
                "b/b-model/kb3",
                "b/b-model/kb4",
                "b/b-model/kb5",
                "b/b-model/kb6",
                "b/b-model/kb7",
            ])
            .trail(&[
                "a/a-model=503:retry_same",
                "a/a-model=503:retry_same",
                "a/a-model=503:next_model",
                "b/b-model=403:next_key",
                "b/b-model=403:next_key",
                "b/b-model=403:next_key",
                "b/b-model=403:next_key",
                "b/b-model=403:next_key",
                "b/b-model=403:next_key",
                "b/b-model=403:attempt_cap",
            ])
            .expect(Error {
                status: 503,
                attempts: 10,
                code: "too_many_attempts",
                message_has: &["b:b-model answered 403"],
            }),
        // No other key, no other model; the provider's own answer reaches the client
        // unchanged, `error.code` and all.
        case("status_400_stops_at_once")
            .mock(
                live("a", |p| {
                    p.status(400)
                        .body(REJECTION)
                        .header("content-type", "application/json; charset=utf-8")
                })
                .keys(&["ka1", "ka2"]),
            )
            .mock(ok("b"))
            .tried(&["a/a-model/ka1"])
            .trail(&["a/a-model=400:fail_fast"])
            .expect(PassedThrough {
                status: 400,
                attempts: 1,
                body: REJECTION,
                content_type: "application/json; charset=utf-8",
            })
            .header(ERROR_CODE_HEADER, Some("upstream_rejected")),
        case("per_attempt_timeout_moves_to_the_next_model")
            .mock(live("a", |p| p.delay(3_000)).keys(&["ka1", "ka2"]))
            .mock(ok("b"))
            .set("per_request_timeout", json!("300ms"))
            .tried(&["a/a-model/ka1", "b/b-model/-"])
            .trail(&["a/a-model=-:next_model", "b/b-model=200:succeeded"])
            .expect(Served {
                by: "b",
                attempts: 2,
            })
            .took(280, 2_000),
        case("per_attempt_timeout_everywhere_is_a_timeout")
            .mock(live("a", |p| p.hang()))
            .set("per_request_timeout", json!("300ms"))
            .tried(&["a/a-model/-"])
            .trail(&["a/a-model=-:exhausted"])
            .expect(Error {
                status: 503,
                attempts: 1,
                code: "all_providers_failed",
                message_has: &["a:a-model timeout"],
            }),
        // c is never tried.
        case("total_timeout_ends_the_loop_with_504")
            .mock(live("a", |p| p.delay(3_000)))
            .mock(live("b", |p| p.delay(3_000)))
            .mock(ok("c"))
            .set("per_request_timeout", json!("400ms"))
            .set("total_timeout", json!("600ms"))
            .tried(&["a/a-model/-", "b/b-model/-"])
            .trail(&["a/a-model=-:next_model", "b/b-model=-:total_timeout"])
            .expect(Error {
                status: 504,
                attempts: 2,
                code: "total_timeout",
                message_has: &[],
            })
            .took(550, 2_000),
        case("total_timeout_cuts_a_single_hanging_attempt")
            .mock(live("a", |p| p.hang()))
            .mock(ok("b"))
            .set("total_timeout", json!("400ms"))
            .tried(&["a/a-model/-"])
            .trail(&["a/a-model=-:total_timeout"])
            .expect(Error {
                status: 504,
                attempts: 1,
                code: "total_timeout",
                message_has: &[],
            })
            .took(400, 2_000),
        case("everything_failing_lists_every_attempt")
            .mock(live("a", |p| p.status(500)))
            .mock(live("b", |p| p.status(502)))
            .tried(&["a/a-model/-", "b/b-model/-"])
            .trail(&["a/a-model=500:next_model", "b/b-model=502:exhausted"])
            .expect(Error {
                status: 503,
                attempts: 2,
                code: "all_providers_failed",
                message_has: &["a-model", "b-model", "500", "502"],
            }),
        case("everything_failing_in_anthropic_format_answers_in_anthropic_shape")
            .mock(live("a", |p| p.status(500)).formats(&["anthropic"]))
            .anthropic()
            .tried(&["a/a-model/-"])
            .trail(&["a/a-model=500:exhausted"])
            .expect(AnthropicError { status: 503 }),
        case("stream_failing_before_its_first_byte_fails_over")
            .mock(live("a", |p| p.fail_before_first_byte()))
            .mock(ok("b"))
            .streaming()
            .tried(&["a/a-model/-", "b/b-model/-"])
            .trail(&["a/a-model=200:next_model", "b/b-model=200:succeeded"])
            .expect(Streamed {
                by: "b",
                attempts: 2,
                hidden: None,
            }),
        case("error_event_as_first_sse_event_fails_over")
            .mock(live("a", |p| p.first_event_error()))
            .mock(ok("b"))
            .streaming()
            .tried(&["a/a-model/-", "b/b-model/-"])
            .trail(&["a/a-model=200:next_model", "b/b-model=200:succeeded"])
            .expect(Streamed {
                by: "b",
                attempts: 2,
                hidden: Some("mock overloaded"),
            }),
        // No failover after the first byte.
        case("stream_dropped_midway_ends_with_an_error_event")
            .mock(live("a", |p| p.stream_chunks(6).drop_after(3)))
            .mock(ok("b"))
            .streaming()
            .tried(&["a/a-model/-"])
            .trail(&["a/a-model=200:succeeded"])
            .expect(StreamBroken {
                by: "a",
                text: "a:a-model c1 c2 ",
            }),
        case("stalled_stream_ends_with_an_error_event")
            .mock(live("a", |p| p.stream_chunks(6).stall_after(2)))
            .mock(ok("b"))
            .set("stream_idle_timeout", json!("400ms"))
            .streaming()
            .tried(&["a/a-model/-"])
            .trail(&["a/a-model=200:succeeded"])
            .expect(StreamBroken {
                by: "a",
                text: "a:a-model c1 ",
            })
            .took(0, 5_000),
    ]
}

macro_rules! plain_and_https {
    ($($case:ident),* $(,)?) => {
        /// Every case with a test of its own, so a table row cannot go unrun.
        const GENERATED: &[&str] = &[$(stringify!($case)),*];
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn plain_internal() {
                    super::run(stringify!($case), false).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn https_test_ca() {
                    super::run(stringify!($case), true).await
                }
            }
        )*
    };
}

plain_and_https!(
    success_passes_body_and_headers_through,
    connection_refused_moves_to_the_next_model,
    connection_refused_everywhere_is_a_connect_failure,
    unresolvable_host_moves_to_the_next_model,
    unresolvable_host_everywhere_is_a_dns_failure,
    tls_failure_moves_to_the_next_model,
    tls_failure_everywhere_is_a_tls_failure,
    status_500_moves_to_the_next_model,
    status_503_with_short_retry_after_retries_the_same_attempt,
    status_503_with_long_retry_after_moves_on,
    retry_after_beyond_the_total_timeout_moves_on,
    retry_same_happens_at_most_twice,
    status_429_tries_the_next_key_then_the_next_model,
    status_401_tries_the_next_key,
    status_401_everywhere_answers_401,
    status_429_everywhere_answers_429_with_the_shortest_retry_after,
    attempt_cap_cutting_the_plan_short_is_too_many_attempts,
    status_400_stops_at_once,
    per_attempt_timeout_moves_to_the_next_model,
    per_attempt_timeout_everywhere_is_a_timeout,
    total_timeout_ends_the_loop_with_504,
    total_timeout_cuts_a_single_hanging_attempt,
    everything_failing_lists_every_attempt,
    everything_failing_in_anthropic_format_answers_in_anthropic_shape,
    stream_failing_before_its_first_byte_fails_over,
    error_event_as_first_sse_event_fails_over,
    stream_dropped_midway_ends_with_an_error_event,
    stalled_stream_ends_with_an_error_event,
);

#[test]
fn every_row_of_the_table_has_its_tests() {
    let rows: Vec<&str> = table().iter().map(|c| c.name).collect();
    assert_eq!(rows, GENERATED);
}

/// Runs one row over plain HTTP (`tls == false`) or HTTPS.
async fn run(name: &str, tls: bool) {
    let case = table()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no row {name}"));
    let ca = Arc::new(TestCa::new("provider test CA").unwrap());
    let scheme = if tls { "https" } else { "http" };
    let mut policy = ai_policy();
    let mut mocks: Vec<MockProvider> = Vec::new();
    let mut internal: Vec<String> = Vec::new();
    for m in &case.mocks {
        let cfg = match m.kind {
            MockKind::Live(script) => {
                let p = provider(m.name);
                let p = if tls { p.tls(&ca) } else { p };
                let p = script(p).start().await.unwrap();
                let cfg = ProviderCfg::of(&p);
                mocks.push(p);
                cfg
            }
            MockKind::Refused => {
                internal.push(format!("{}.internal={}", m.name, closed_port().unwrap()));
                ProviderCfg::named(m.name, &format!("{scheme}://{}.internal/v1", m.name))
            }
            MockKind::Untrusted => {
                let stranger = Arc::new(TestCa::new("untrusted CA").unwrap());
                let p = provider(m.name).tls(&stranger).start().await.unwrap();
                let cfg = ProviderCfg::of(&p);
                mocks.push(p);
                cfg
            }
            MockKind::NoSuchHost => ProviderCfg::named(m.name, "https://no-such-host.invalid/v1"),
        };
        policy = policy.provider(cfg.keys(m.keys).formats(m.formats));
    }
    for (key, value) in &case.config {
        policy = policy.set(key, value.clone());
    }
    let mut builder = edge()
        .policy(&policy.build())
        .provider_ca(&ca)
        .arg("--log-format")
        .arg("json");
    for p in &mocks {
        builder = builder.provider(p);
    }
    for m in &internal {
        builder = builder.internal(m);
    }
    let e = builder.start().await.unwrap();

    let models: Vec<String> = case
        .mocks
        .iter()
        .map(|m| format!("{0}:{0}-model", m.name))
        .collect();
    let fallbacks: Vec<&str> = models.iter().skip(1).map(String::as_str).collect();
    let path = if case.anthropic {
        "/v1/messages"
    } else {
        "/v1/chat/completions"
    };
    let body = if case.anthropic {
        messages(&models[0], false)
    } else {
        chat(&models[0], &fallbacks, case.stream)
    };
    let client = Client::new().unwrap();
    let started = Instant::now();
    let headers = if case.stream {
        let s = client
            .post_stream(&e.url(path), &body, Duration::from_secs(10))
            .await
            .unwrap();
        check_stream(&case.expect, &s);
        s.headers
    } else {
        let r = client.post_json(&e.url(path), &body).await.unwrap();
        check_reply(&case.expect, &r);
        r.headers
    };
    let took = started.elapsed();
    if let Some((at_least, below)) = case.took {
        assert!(
            took >= Duration::from_millis(at_least) && took < Duration::from_millis(below),
            "{name}: took {took:?}"
        );
    }
    for (header, value) in &case.headers {
        assert_eq!(
            headers.get(*header).and_then(|v| v.to_str().ok()),
            *value,
            "{name}: {header}"
        );
    }
    assert_eq!(
        attempt_log(&mocks),
        case.tried,
        "{name}: what the providers saw"
    );
    for p in &mocks {
        for r in p.received() {
            assert_eq!(r.path, path, "{name}");
        }
    }
    assert_eq!(access_trail(&e).await, case.trail, "{name}: access log");
    if !case.metrics.is_empty() {
        let metrics = client.get(&e.admin_url("/metrics")).await.unwrap().text();
        for line in &case.metrics {
            assert!(metrics.contains(line), "{name}: no {line} in\n{metrics}");
        }
    }
}

/// Every request the providers saw, in arrival order, as `provider/model/credential`.
fn attempt_log(providers: &[MockProvider]) -> Vec<String> {
    let mut all: Vec<(Instant, String)> = providers
        .iter()
        .flat_map(|p| {
            p.received().into_iter().map(move |r| {
                let cred = r
                    .header("authorization")
                    .map(|a| a.trim_start_matches("Bearer ").to_owned())
                    .or_else(|| r.header("x-api-key").map(str::to_owned))
                    .unwrap_or_else(|| "-".into());
                (
                    r.at,
                    format!("{}/{}/{}", p.name, r.model().unwrap_or_default(), cred),
                )
            })
        })
        .collect();
    all.sort_by_key(|(t, _)| *t);
    all.into_iter().map(|(_, s)| s).collect()
}

/// The request's attempts from the edge's access log line, as `provider/model=status:decision`
/// (the log names keys by a hash of the key, so the key column is dropped here: which key
/// went where is what `attempt_log` shows).
async fn access_trail(e: &Edge) -> Vec<String> {
    e.wait_for_log("\"edge::access\"", Duration::from_secs(5))
        .await
        .unwrap();
    let line = e
        .logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        // The request's line (a broken stream adds a `stream broken` line after it).
        .rfind(|v| v["target"] == "edge::access" && v["message"] == "request")
        .unwrap_or_else(|| panic!("no access log line in\n{}", e.logs()));
    line["attempts"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .map(|a| {
            let (target, result) = a.split_once('=').unwrap_or((a, ""));
            let target = target.rsplit_once('/').map_or(target, |(pm, _key)| pm);
            format!("{target}={result}")
        })
        .collect()
}

fn check_reply(expect: &Expect, r: &Reply) {
    match *expect {
        Expect::Served { by, attempts } => {
            assert_served(r, by, attempts);
            assert_eq!(
                r.json()["choices"][0]["message"]["content"].as_str(),
                Some(format!("{by}:{by}-model").as_str()),
                "the body is the serving provider's: {}",
                r.text()
            );
        }
        Expect::ServedExactly { by, attempts, body } => {
            assert_served(r, by, attempts);
            assert_eq!(r.text(), body);
        }
        Expect::Error {
            status,
            attempts,
            code,
            message_has,
        } => {
            assert_eq!(assert_gateway_error(r, status, attempts), code);
            let message = r.json()["error"]["message"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            for part in message_has {
                assert!(message.contains(part), "{part:?} not in {message}");
            }
        }
        Expect::PassedThrough {
            status,
            attempts,
            body,
            content_type,
        } => {
            assert_eq!(r.status, status, "{}", r.text());
            assert_eq!(
                r.header("x-aigw-attempts"),
                Some(attempts.to_string().as_str())
            );
            assert_eq!(r.text(), body);
            assert_eq!(r.header("content-type"), Some(content_type));
        }
        Expect::AnthropicError { status } => {
            assert_eq!(r.status, status, "{}", r.text());
            let v = r.json();
            assert_eq!(v["type"], "error", "{v}");
            assert!(
                v["error"]["type"].is_string() && v["error"]["message"].is_string(),
                "{v}"
            );
            assert!(r.header(ERROR_CODE_HEADER).is_some());
        }
        _ => panic!("a stream expectation for a plain request"),
    }
}

fn assert_served(r: &Reply, provider: &str, attempts: u32) {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("x-aigw-provider"),
        Some(provider),
        "{:?}",
        r.headers
    );
    assert_eq!(
        r.header("x-aigw-model"),
        Some(format!("{provider}-model").as_str()),
        "{:?}",
        r.headers
    );
    assert_eq!(
        r.header("x-aigw-attempts"),
        Some(attempts.to_string().as_str()),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header(ERROR_CODE_HEADER), None);
    // The plan's own response headers (the request id) reach the client with the answer.
    assert!(
        r.header("x-aigw-request-id")
            .is_some_and(|id| !id.is_empty()),
        "{:?}",
        r.headers
    );
}

/// A gateway error: status, code in body and header agree, OpenAI shape, attempts counted.
fn assert_gateway_error(r: &Reply, status: u16, attempts: u32) -> String {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    let code = v["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error.code: {}", r.text()))
        .to_owned();
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
    assert!(v["error"]["type"].is_string(), "{v}");
    assert_eq!(r.header(ERROR_CODE_HEADER), Some(code.as_str()));
    assert_eq!(
        r.header("x-aigw-attempts"),
        Some(attempts.to_string().as_str()),
        "{:?}",
        r.headers
    );
    code
}

fn check_stream(expect: &Expect, s: &StreamReply) {
    match *expect {
        Expect::Streamed {
            by,
            attempts,
            hidden,
        } => {
            assert_eq!(s.status, 200, "{}", s.raw);
            assert_eq!(s.header("content-type"), Some("text/event-stream"));
            assert_eq!(s.header("x-aigw-provider"), Some(by));
            assert_eq!(
                s.header("x-aigw-model"),
                Some(format!("{by}-model").as_str())
            );
            assert_eq!(
                s.header("x-aigw-attempts"),
                Some(attempts.to_string().as_str())
            );
            assert!(s.transport_error.is_none(), "{:?}", s.transport_error);
            assert!(!s.events.iter().any(|e| e.is_error()), "{}", s.raw);
            assert_eq!(stream_text(&s.events), format!("{by}:{by}-model c1 c2 "));
            assert_eq!(s.events.last().map(|e| e.data.as_str()), Some("[DONE]"));
            if let Some(hidden) = hidden {
                assert!(
                    !s.raw.contains(hidden),
                    "the failed attempt's bytes never reach the client"
                );
            }
        }
        Expect::StreamBroken { by, text } => {
            assert_eq!(s.status, 200);
            assert_eq!(s.header("x-aigw-provider"), Some(by));
            assert_eq!(
                stream_text(&s.events),
                text,
                "chunks before the break arrive"
            );
            let last = s.events.last().expect("events");
            assert!(
                last.is_error(),
                "an explicit error event ends the stream, not a clean end: {}",
                s.raw
            );
            assert!(!s.raw.contains("[DONE]"), "{}", s.raw);
            assert!(
                !s.transport_error
                    .as_deref()
                    .unwrap_or("")
                    .contains("client gave up"),
                "{:?}",
                s.transport_error
            );
        }
        _ => panic!("a plain expectation for a stream"),
    }
}
