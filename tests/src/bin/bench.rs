//! The edge benchmark (not a test): `cargo run -p edge-test-support --release --bin bench --
//! [policy|ai|cpu|all]`.
//!
//! `policy`: an echo upstream; a bare hyper reverse proxy (the baseline, its own process);
//! the edge (its own process, release build) with `policies/rules.yaml` (a few CEL rules
//! plus header edits). Each target gets the same load: open-loop at a fixed rate (default
//! 1000 req/s) and closed-loop saturation. Printed: p50/p90/p99, throughput, the edge's RSS
//! (idle after start, and after load), the plugin's decision time from `/metrics`, and the
//! overhead ratios against the proxy and against going direct — all from the same run.
//!
//! `ai`: three mock providers, an ai-gateway policy with a request-independent strategy, a
//! 2 KB chat request with a client `models` list; the same load comparison, plus the delay
//! from a provider sending an SSE chunk to the client receiving it (direct, proxy, edge).
//!
//! `cpu`: CPU per request the way a user comparing gateways measures it. This process (the
//! load generator and the upstream or mock provider) is pinned to core 0 and each server
//! under test to core 1 with `taskset`; each server's CPU time comes from `/proc` over a
//! saturated run: rules.yaml against the bare proxy, and the ai-gateway case (one provider,
//! one model) with 2 KiB and 200 KiB chat bodies. Prints every target as met or MISSED.
//!
//! Options: `--rate N` (req/s, default 1000), `--secs N` (per phase, default 5),
//! `--concurrency N` (saturation clients, default 32), `--edge PATH` (the edge binary to measure).
//!
//! Which edge: `--edge PATH`, else `EDGE_BIN=PATH`, else the benchmark runs
//! `cargo build --release -p edge --bin edge` itself (a no-op when the release build is
//! current) and measures the binary cargo reports. Being a program, not a test, it has no
//! `CARGO_BIN_EXE_edge`.
//! Internal: `serve-proxy UPSTREAM` runs the baseline proxy process.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use edge_test_support::ai::{ProviderCfg, ai_policy};
use edge_test_support::bench_report::{Histogram, histogram};
use edge_test_support::load::{
    LoadClient, RequestShape, Stats, closed_loop, load_client, open_loop, percentile, send_once,
};
use edge_test_support::paths::{plugin_cache_dir, workspace_root};
use edge_test_support::process_stats::rss_mib;
use edge_test_support::{MockProvider, echo_upstream, provider};
use http_body_util::{BodyExt, Full};
use serde_json::json;

struct Opts {
    scenario: String,
    edge: Option<PathBuf>,
    rate: u32,
    secs: u64,
    concurrency: usize,
}

fn parse_opts() -> anyhow::Result<Opts> {
    let mut o = Opts {
        scenario: "all".into(),
        edge: std::env::var_os("EDGE_BIN").map(PathBuf::from),
        rate: 1000,
        secs: 5,
        concurrency: 32,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rate" => o.rate = args.next().context("--rate N")?.parse()?,
            "--secs" => o.secs = args.next().context("--secs N")?.parse()?,
            "--concurrency" => o.concurrency = args.next().context("--concurrency N")?.parse()?,
            "--edge" => o.edge = Some(args.next().context("--edge PATH")?.into()),
            s if !s.starts_with('-') => o.scenario = s.to_owned(),
            other => bail!("unknown option {other}"),
        }
    }
    Ok(o)
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if args.get(1).map(String::as_str) == Some("serve-proxy") {
        let upstream = args.get(2).context("serve-proxy UPSTREAM")?.clone();
        return rt.block_on(serve_proxy(upstream));
    }
    let mut o = parse_opts()?;
    if o.edge.is_none() {
        o.edge = Some(build_release_edge()?);
    }
    rt.block_on(async {
        match o.scenario.as_str() {
            "policy" => policy_bench(&o).await,
            "ai" => ai_bench(&o).await,
            "cpu" => cpu_bench(&o).await,
            "all" => {
                policy_bench(&o).await?;
                ai_bench(&o).await?;
                cpu_bench(&o).await
            }
            other => bail!("unknown scenario {other} (policy|ai|cpu|all)"),
        }
    })
}

/// Builds the release edge with cargo and returns the path cargo reports for it.
fn build_release_edge() -> anyhow::Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root()).args([
        "build",
        "--release",
        "-p",
        "edge",
        "--bin",
        "edge",
        "--message-format=json-render-diagnostics",
    ]);
    // `cargo run` gives this process CARGO_PKG_*, CARGO_MANIFEST_DIR, …; inherited by the
    // nested cargo they reach build scripts that watch environment variables and trigger
    // rebuilds. Only the variables that select the build stay.
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_TARGET_DIR" {
            cmd.env_remove(&key);
        }
    }
    cmd.stderr(Stdio::inherit());
    let out = cmd.output().context("running cargo build")?;
    if !out.status.success() {
        bail!("cargo build --release -p edge failed ({})", out.status);
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["reason"] == "compiler-artifact" && v["target"]["name"] == "edge")
        .filter_map(|v| v["executable"].as_str().map(PathBuf::from))
        .next_back()
        .context("cargo printed no executable for the edge binary")
}

/// Child mode: run the baseline proxy until stdin closes; print its address first.
async fn serve_proxy(upstream: String) -> anyhow::Result<()> {
    let proxy = edge_test_support::baseline_proxy::start_baseline_proxy(&upstream).await?;
    println!("LISTEN {}", proxy.addr);
    std::io::stdout().flush()?;
    tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        while std::io::stdin()
            .read_line(&mut s)
            .map(|n| n > 0)
            .unwrap_or(false)
        {}
    })
    .await?;
    proxy.stop().await?;
    Ok(())
}

/// A child process killed on drop.
struct Proc(Child);
impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_proxy(upstream: &str) -> anyhow::Result<(Proc, String)> {
    let mut child = Command::new(std::env::current_exe()?)
        .arg("serve-proxy")
        .arg(upstream)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let out = child.stdout.take().context("proxy stdout")?;
    let mut line = String::new();
    std::io::BufReader::new(out).read_line(&mut line)?;
    let addr = line
        .trim()
        .strip_prefix("LISTEN ")
        .context("proxy did not print its address")?
        .to_owned();
    Ok((Proc(child), format!("http://{addr}")))
}

struct EdgeProc {
    proc_: Proc,
    url: String,
    admin: String,
}

/// What the edge under test logs.
#[derive(Clone, Copy)]
enum EdgeLog {
    /// Warnings only, on this terminal: the latency scenarios.
    Quiet,
    /// The default level, access log included, as users run it, written to /dev/null: the
    /// CPU scenario, which must pay for what a real edge does.
    AccessLog,
}

/// Starts the edge on `policy` with `extra` flags.
async fn spawn_edge(
    o: &Opts,
    policy: &str,
    extra: &[String],
    log: EdgeLog,
) -> anyhow::Result<EdgeProc> {
    let dir = std::env::temp_dir().join(format!("edge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path: PathBuf = dir.join(format!(
        "policy-{}.yaml",
        Instant::now().elapsed().as_nanos()
    ));
    std::fs::write(&path, policy)?;
    let free = |_: ()| -> anyhow::Result<std::net::SocketAddr> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
    };
    let (addr, admin) = (free(())?, free(())?);
    let bin = o.edge.as_ref().context("no edge binary")?;
    let child = Command::new(bin)
        .arg("serve")
        .arg("--policy")
        .arg(&path)
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--admin-listen")
        .arg(admin.to_string())
        .arg("--cache-dir")
        .arg(plugin_cache_dir())
        .args(extra)
        .env(
            "RUST_LOG",
            match log {
                EdgeLog::Quiet => "warn",
                EdgeLog::AccessLog => "info",
            },
        )
        .stdout(Stdio::null())
        .stderr(match log {
            EdgeLog::Quiet => Stdio::inherit(),
            EdgeLog::AccessLog => Stdio::null(),
        })
        .spawn()?;
    let e = EdgeProc {
        proc_: Proc(child),
        url: format!("http://{addr}"),
        admin: format!("http://{admin}"),
    };
    let client = load_client();
    let ready = RequestShape {
        method: http::Method::GET,
        url: format!("{}/readyz", e.admin),
        headers: vec![],
        body: Bytes::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while !send_once(&client, &ready).await {
        if Instant::now() > deadline {
            bail!("edge never became ready");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(e)
}

async fn scrape(client: &LoadClient, admin: &str) -> String {
    let req = http::Request::get(format!("{admin}/metrics")).body(Full::new(Bytes::new()));
    let Ok(req) = req else { return String::new() };
    match client.request(req).await {
        Ok(res) => res
            .into_body()
            .collect()
            .await
            .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
            .unwrap_or_default(),
        Err(_) => String::new(),
    }
}

fn row(name: &str, s: &Stats) {
    println!(
        "| {name:<22} | {:>9.0} | {:>9.0} | {:>9.0} | {:>10.0} | {:>6} |",
        s.p50_us, s.p90_us, s.p99_us, s.throughput, s.errors
    );
}

fn header(title: &str) {
    println!("\n### {title}\n");
    println!(
        "| target                 | p50 (µs)  | p90 (µs)  | p99 (µs)  | req/s      | errors |"
    );
    println!(
        "|------------------------|-----------|-----------|-----------|------------|--------|"
    );
}

struct Compared {
    direct: Stats,
    proxy: Stats,
    edge: Stats,
}

async fn compare(
    o: &Opts,
    client: &LoadClient,
    shapes: [&RequestShape; 3],
    saturate: bool,
) -> Compared {
    let secs = Duration::from_secs(o.secs);
    let mut out = Vec::new();
    for shape in shapes {
        // Warm connections and caches before measuring.
        let _ = open_loop(client, shape, o.rate, Duration::from_millis(500)).await;
        out.push(if saturate {
            closed_loop(client, shape, o.concurrency, secs).await
        } else {
            open_loop(client, shape, o.rate, secs).await
        });
    }
    let edge = out.pop().unwrap_or_default();
    let proxy = out.pop().unwrap_or_default();
    let direct = out.pop().unwrap_or_default();
    Compared {
        direct,
        proxy,
        edge,
    }
}

fn ratios(c: &Compared) {
    let over = |x: f64| x - c.direct.p50_us;
    println!(
        "\nedge p50 / proxy p50 = {:.2}x; added latency over direct: proxy {:.0} µs, edge {:.0} µs ({:.2}x the proxy's)",
        c.edge.p50_us / c.proxy.p50_us,
        over(c.proxy.p50_us),
        over(c.edge.p50_us),
        over(c.edge.p50_us) / over(c.proxy.p50_us)
    );
}

fn plugin_line(h: &Histogram, target_us: f64) {
    println!(
        "plugin decision (from /metrics, {} calls): p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs (target p50 ≤ {target_us} µs)",
        h.count,
        h.quantile(0.5) * 1e6,
        h.quantile(0.99) * 1e6,
        h.mean() * 1e6
    );
}

/// The request the rules.yaml scenarios send: an API call with a key, which the policy's
/// rules let through with header edits.
fn rules_request(base: &str) -> RequestShape {
    RequestShape {
        method: http::Method::GET,
        url: format!("{base}/api/items?limit=10"),
        headers: vec![
            ("user-agent".into(), "bench".into()),
            ("x-api-key".into(), "bench".into()),
        ],
        body: Bytes::new(),
    }
}

async fn policy_bench(o: &Opts) -> anyhow::Result<()> {
    println!(
        "## policy scenario: policies/rules.yaml, {} req/s open loop, {} s per phase",
        o.rate, o.secs
    );
    let up = echo_upstream().await?;
    let (_proxy, proxy_url) = spawn_proxy(&up.server.url())?;
    let policy = std::fs::read_to_string(workspace_root().join("policies/rules.yaml"))
        .context("policies/rules.yaml")?;
    let edge = spawn_edge(
        o,
        &policy,
        &["--upstream".into(), up.server.url()],
        EdgeLog::Quiet,
    )
    .await?;
    let client = load_client();
    let pid = edge.proc_.0.id();
    let (d, p, e) = (
        rules_request(&up.server.url()),
        rules_request(&proxy_url),
        rules_request(&edge.url),
    );
    for _ in 0..50 {
        send_once(&client, &e).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = rss_mib(pid);
    up.requests.clear();

    let before = histogram(&scrape(&client, &edge.admin).await, "plugin_call_duration");
    header(&format!("fixed rate {} req/s", o.rate));
    let c = compare(o, &client, [&d, &p, &e], false).await;
    let after = histogram(&scrape(&client, &edge.admin).await, "plugin_call_duration");
    row("direct (upstream)", &c.direct);
    row("bare hyper proxy", &c.proxy);
    row("edge + rules.yaml", &c.edge);
    ratios(&c);
    plugin_line(&after.since(&before), 10.0);

    header(&format!("saturation, {} concurrent clients", o.concurrency));
    let s = compare(o, &client, [&d, &p, &e], true).await;
    row("direct (upstream)", &s.direct);
    row("bare hyper proxy", &s.proxy);
    row("edge + rules.yaml", &s.edge);
    println!(
        "\nedge throughput / proxy throughput = {:.2}",
        s.edge.throughput / s.proxy.throughput
    );
    println!(
        "\nedge RSS: idle {rss_idle:.1} MiB (target ≤ 40 MiB), after load {:.1} MiB",
        rss_mib(pid)
    );
    up.requests.clear();
    Ok(())
}

/// A 2 KB chat request naming a model plus a fallback `models` list.
fn ai_body(stream: bool) -> Bytes {
    let filler = "lorem ipsum dolor sit amet ".repeat(70);
    let mut v = json!({
        "model": "p1:p1-model",
        "models": ["p2:p2-model", "p3:p3-model"],
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": filler}],
        "temperature": 0.2,
    });
    if stream {
        v["stream"] = json!(true);
    }
    Bytes::from(v.to_string())
}

fn chat_shape(base: &str, stream: bool) -> RequestShape {
    RequestShape {
        method: http::Method::POST,
        url: format!("{base}/v1/chat/completions"),
        headers: vec![("content-type".into(), "application/json".into())],
        body: ai_body(stream),
    }
}

async fn ai_bench(o: &Opts) -> anyhow::Result<()> {
    println!(
        "\n## ai scenario: 3 providers, request-independent strategy, 2 KB body with a models list"
    );
    let p1 = provider("p1")
        .stream_chunks(20)
        .chunk_delay(5)
        .start()
        .await?;
    let p2 = provider("p2").start().await?;
    let p3 = provider("p3").start().await?;
    // Answers 503 to everything: the failover phase's first attempt.
    let down = provider("down").status(503).start().await?;
    let policy = ai_policy()
        .provider(ProviderCfg::of(&p1).keys(&["bench-key-1"]))
        .provider(ProviderCfg::of(&p2).keys(&["bench-key-2"]))
        .provider(ProviderCfg::of(&p3).keys(&["bench-key-3"]))
        .provider(ProviderCfg::of(&down).keys(&["bench-key-4"]))
        .set(
            "model_selection",
            json!({"strategy": ["ai.models.filter(m, m.provider_id != 'p3')"]}),
        )
        .build();
    let internal: Vec<String> = [&p1, &p2, &p3, &down]
        .iter()
        .flat_map(|p| ["--internal".to_owned(), p.internal_flag()])
        .collect();
    let edge = spawn_edge(o, &policy, &internal, EdgeLog::Quiet).await?;
    let p1_url = format!("http://{}", p1.server.addr);
    let (_proxy, proxy_url) = spawn_proxy(&p1_url)?;
    let client = load_client();
    let (d, p, e) = (
        chat_shape(&p1_url, false),
        chat_shape(&proxy_url, false),
        chat_shape(&edge.url, false),
    );
    if !send_once(&client, &e).await {
        bail!("the ai policy does not serve a chat request; check the edge log above");
    }
    let before = histogram(&scrape(&client, &edge.admin).await, "plugin_call_duration");
    header(&format!("fixed rate {} req/s, non-streaming chat", o.rate));
    let c = compare(o, &client, [&d, &p, &e], false).await;
    let after = histogram(&scrape(&client, &edge.admin).await, "plugin_call_duration");
    row("direct (provider)", &c.direct);
    row("bare hyper proxy", &c.proxy);
    row("edge + ai-gateway", &c.edge);
    ratios(&c);
    plugin_line(&after.since(&before), 20.0);
    for p in [&p1, &p2, &p3] {
        p.requests.clear();
    }
    failover_cost(o, &client, &edge, &p2).await?;
    down.requests.clear();
    p2.requests.clear();

    println!(
        "\n### stream: delay from a provider chunk to the client (p50 / p99 over chunks 2..n)\n"
    );
    for (name, base) in [
        ("direct", p1_url.as_str()),
        ("bare hyper proxy", proxy_url.as_str()),
        ("edge", edge.url.as_str()),
    ] {
        let (p50, p99, n) = chunk_delays(&client, &p1, &chat_shape(base, true), 30).await?;
        println!("| {name:<18} | p50 {p50:>7.0} µs | p99 {p99:>7.0} µs | {n} chunks |");
    }
    println!("(target: edge p50 ≤ 200 µs)");
    Ok(())
}

/// The failover phase: every request's first model answers 503 and the next one serves, so
/// each request makes one `classify_failure` call. Printed: that call's time from the
/// edge's `/metrics` beside the same run's `on_http_request` time, and the requests'
/// latency beside requests that go straight to the serving model through the same edge.
async fn failover_cost(
    o: &Opts,
    client: &LoadClient,
    edge: &EdgeProc,
    serving: &MockProvider,
) -> anyhow::Result<()> {
    let shape = |model: &str, models: &[&str]| RequestShape {
        method: http::Method::POST,
        url: format!("{}/v1/chat/completions", edge.url),
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::from(
            json!({
                "model": model,
                "models": models,
                "messages": [{"role": "user", "content": "lorem ipsum ".repeat(100)}],
            })
            .to_string(),
        ),
    };
    let straight = shape("p2:p2-model", &[]);
    let failing_over = shape("down:down-model", &["p2:p2-model"]);
    if !send_once(client, &failing_over).await {
        bail!("the failover request was not served; check the edge log above");
    }
    // A failover takes two upstream calls; half the rate keeps the providers' load equal.
    let rate = (o.rate / 2).max(1);
    let secs = Duration::from_secs(o.secs);
    println!(
        "
### failover: the first model answers 503, the next serves ({rate} req/s)
"
    );
    header("one failover per request vs none, same edge");
    let _ = open_loop(client, &straight, rate, Duration::from_millis(500)).await;
    let direct = open_loop(client, &straight, rate, secs).await;
    let text = scrape(client, &edge.admin).await;
    let (classify_before, request_before) = (
        histogram(&text, "export=\"classify_failure\""),
        histogram(&text, "export=\"on_http_request\""),
    );
    let failed_over = open_loop(client, &failing_over, rate, secs).await;
    let text = scrape(client, &edge.admin).await;
    let classify = histogram(&text, "export=\"classify_failure\"").since(&classify_before);
    let request = histogram(&text, "export=\"on_http_request\"").since(&request_before);
    row("edge, no failover", &direct);
    row("edge, one failover", &failed_over);
    println!(
        "
classify_failure (from /metrics, {} calls): p50 {:.1} µs, p99 {:.1} µs, mean {:.1} µs; \
         on_http_request in the same phase: mean {:.1} µs; served by {} ({} requests)",
        classify.count,
        classify.quantile(0.5) * 1e6,
        classify.quantile(0.99) * 1e6,
        classify.mean() * 1e6,
        request.mean() * 1e6,
        serving.name,
        serving.hits(),
    );
    Ok(())
}

/// Runs `streams` streams one after another and pairs the provider's send time of each SSE
/// event with the client's arrival time of the same event.
async fn chunk_delays(
    client: &LoadClient,
    p: &MockProvider,
    shape: &RequestShape,
    streams: usize,
) -> anyhow::Result<(f64, f64, usize)> {
    let mut delays = Vec::new();
    for _ in 0..streams {
        let sent_before = p.sent_chunks().len();
        let mut b = http::Request::builder()
            .method(shape.method.clone())
            .uri(shape.url.as_str());
        for (k, v) in &shape.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        let res = client
            .request(b.body(Full::new(shape.body.clone()))?)
            .await?;
        if !res.status().is_success() {
            bail!("stream request failed: {}", res.status());
        }
        let mut body = res.into_body();
        let mut arrivals = Vec::new();
        let mut pending = String::new();
        while let Some(frame) = body.frame().await {
            let frame = frame?;
            let now = Instant::now();
            if let Ok(data) = frame.into_data() {
                pending.push_str(&String::from_utf8_lossy(&data));
                while let Some(i) = pending.find("\n\n") {
                    arrivals.push(now);
                    pending.drain(..i + 2);
                }
            }
        }
        let sent: Vec<Instant> = p
            .sent_chunks()
            .into_iter()
            .skip(sent_before)
            .map(|(_, t)| t)
            .collect();
        // Event 0 waits for the edge's commit decision; measure steady-state relaying.
        for (s, a) in sent.iter().zip(arrivals.iter()).skip(1) {
            delays.push(a.saturating_duration_since(*s).as_secs_f64() * 1e6);
        }
    }
    delays.sort_by(f64::total_cmp);
    Ok((
        percentile(&delays, 50.0),
        percentile(&delays, 99.0),
        delays.len(),
    ))
}

/// Pins `pid` (every thread of it) to the CPUs in `cpus` (a `taskset` list such as "1");
/// false when `taskset` is missing or refused.
fn pin(pid: u32, cpus: &str) -> bool {
    Command::new("taskset")
        .args(["-a", "-c", "-p", cpus, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Clock ticks per second of `/proc/<pid>/stat` times.
fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0)
}

/// User plus system CPU time `pid` has used so far, in seconds.
fn cpu_seconds(pid: u32, ticks: f64) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces) start at "state".
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime = f.get(11)?.parse::<f64>().ok()?;
            let stime = f.get(12)?.parse::<f64>().ok()?;
            Some((utime + stime) / ticks)
        })
        .unwrap_or(f64::NAN)
}

/// One saturated run against one server process: throughput and that process's CPU per
/// request.
struct CpuRun {
    stats: Stats,
    cpu_us: f64,
}

async fn cpu_run(
    o: &Opts,
    client: &LoadClient,
    shape: &RequestShape,
    pid: u32,
    ticks: f64,
) -> CpuRun {
    let _ = closed_loop(client, shape, o.concurrency, Duration::from_secs(1)).await;
    let before = cpu_seconds(pid, ticks);
    let stats = closed_loop(client, shape, o.concurrency, Duration::from_secs(o.secs)).await;
    let used = cpu_seconds(pid, ticks) - before;
    CpuRun {
        cpu_us: used * 1e6 / stats.ok.max(1) as f64,
        stats,
    }
}

fn cpu_row(name: &str, r: &CpuRun, proxy: &CpuRun) {
    println!(
        "| {name:<34} | {:>9.0} | {:>10.1} | {:>7.2}× | {:>6} |",
        r.stats.throughput,
        r.cpu_us,
        r.cpu_us / proxy.cpu_us,
        r.stats.errors
    );
}

fn cpu_header(title: &str) {
    println!("\n### {title}\n");
    println!("| target (alone on core 1)           | req/s     | CPU/req µs | vs proxy | errors |");
    println!("|------------------------------------|-----------|------------|----------|--------|");
}

fn verdict(what: &str, ok: bool) {
    println!("- {what}: {}", if ok { "met" } else { "MISSED" });
}

/// The targets of a CPU comparison: CPU per request within 1.5× the proxy's, throughput at
/// least 60 % of the proxy's.
fn cpu_targets(name: &str, edge: &CpuRun, proxy: &CpuRun) {
    let ratio = edge.cpu_us / proxy.cpu_us;
    let share = edge.stats.throughput / proxy.stats.throughput;
    verdict(
        &format!("{name}: CPU per request {ratio:.2}× the proxy's (target ≤ 1.5×)"),
        ratio <= 1.5,
    );
    verdict(
        &format!(
            "{name}: throughput {:.0} % of the proxy's (target ≥ 60 %)",
            share * 100.0
        ),
        share >= 0.6,
    );
}

/// A chat request whose body is about `kib` KiB (one long user message).
fn sized_chat(base: &str, kib: usize) -> RequestShape {
    let body = json!({
        "model": "p1:p1-model",
        "messages": [{"role": "user", "content": "x".repeat(kib * 1024)}],
    });
    RequestShape {
        method: http::Method::POST,
        url: format!("{base}/v1/chat/completions"),
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::from(body.to_string()),
    }
}

/// CPU per request, as a user comparing gateways measures it: the load generator and the
/// upstream (or mock provider) in this process on core 0, the server under test alone on
/// core 1, each server's CPU time read from `/proc` over a saturated run.
async fn cpu_bench(o: &Opts) -> anyhow::Result<()> {
    let me = std::process::id();
    if !pin(me, "0") {
        bail!("taskset is needed to pin the processes apart (Debian: util-linux)");
    }
    let ticks = clock_ticks();
    println!(
        "\n## cpu scenario: saturation with {} clients, {} s per target; load generator and upstream on core 0, server alone on core 1",
        o.concurrency, o.secs
    );
    let client = load_client();

    // rules.yaml, upstream mode, against a bare proxy to the same echo upstream.
    let up = echo_upstream().await?;
    let (proxy, proxy_url) = spawn_proxy(&up.server.url())?;
    let policy = std::fs::read_to_string(workspace_root().join("policies/rules.yaml"))
        .context("policies/rules.yaml")?;
    let edge = spawn_edge(
        o,
        &policy,
        &["--upstream".into(), up.server.url()],
        EdgeLog::AccessLog,
    )
    .await?;
    for pid in [proxy.0.id(), edge.proc_.0.id()] {
        pin(pid, "1");
    }
    let p = cpu_run(o, &client, &rules_request(&proxy_url), proxy.0.id(), ticks).await;
    let e = cpu_run(
        o,
        &client,
        &rules_request(&edge.url),
        edge.proc_.0.id(),
        ticks,
    )
    .await;
    up.requests.clear();
    cpu_header("rules.yaml (upstream mode)");
    cpu_row("bare hyper proxy", &p, &p);
    cpu_row("edge + rules.yaml", &e, &p);
    drop((proxy, edge));

    // The ai-gateway action, one provider and one model, against a proxy to that provider.
    let p1 = provider("p1").start().await?;
    let (proxy, proxy_url) = spawn_proxy(&format!("http://{}", p1.server.addr))?;
    let policy = ai_policy()
        .provider(ProviderCfg::of(&p1).keys(&["bench-key-1"]))
        .build();
    let edge = spawn_edge(
        o,
        &policy,
        &["--internal".into(), p1.internal_flag()],
        EdgeLog::AccessLog,
    )
    .await?;
    for pid in [proxy.0.id(), edge.proc_.0.id()] {
        pin(pid, "1");
    }
    cpu_header("ai-gateway, one provider and one model");
    let mut results = Vec::new();
    // 2 KiB and 200 KiB carry the targets; 2 MiB and ~10 MB (images in base64, just under
    // the default 10 MiB body limit) show how the cost grows with the body.
    for kib in [2, 200, 2048, 10_000] {
        let pr = cpu_run(
            o,
            &client,
            &sized_chat(&proxy_url, kib),
            proxy.0.id(),
            ticks,
        )
        .await;
        let er = cpu_run(
            o,
            &client,
            &sized_chat(&edge.url, kib),
            edge.proc_.0.id(),
            ticks,
        )
        .await;
        cpu_row(&format!("bare hyper proxy, {kib} KiB body"), &pr, &pr);
        cpu_row(&format!("edge + ai-gateway, {kib} KiB body"), &er, &pr);
        p1.requests.clear();
        results.push((kib, pr, er));
    }
    println!("\nTargets (same run):");
    cpu_targets("rules.yaml", &e, &p);
    for (kib, pr, er) in results.iter().filter(|(kib, ..)| *kib <= 200) {
        cpu_targets(&format!("ai-gateway, {kib} KiB body"), er, pr);
    }
    println!("\nEdge CPU per request and per MiB of body (linear growth keeps µs/MiB flat):");
    for (kib, _, er) in &results {
        println!(
            "- {kib} KiB: {:.0} µs per request, {:.0} µs per MiB",
            er.cpu_us,
            er.cpu_us / (*kib as f64 / 1024.0)
        );
    }
    Ok(())
}
