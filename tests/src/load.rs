//! Load generation for the benchmark: open-loop at a fixed rate (latency measured from the
//! moment each request was *due*, so a slow server cannot hide its queueing), and closed-loop
//! saturation with a fixed number of concurrent clients.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// One request shape, sent again and again.
#[derive(Clone, Debug)]
pub struct RequestShape {
    pub method: http::Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// Latency distribution and throughput of one run.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub ok: usize,
    pub errors: usize,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub throughput: f64,
}

pub type LoadClient = HyperClient<HttpConnector, Full<Bytes>>;

pub fn load_client() -> LoadClient {
    let mut c = HttpConnector::new();
    c.set_nodelay(true);
    HyperClient::builder(TokioExecutor::new())
        .pool_max_idle_per_host(512)
        .build(c)
}

/// Sends one request and reads the whole body. Ok only for a 2xx.
pub async fn send_once(client: &LoadClient, shape: &RequestShape) -> bool {
    let mut b = http::Request::builder()
        .method(shape.method.clone())
        .uri(shape.url.as_str());
    for (k, v) in &shape.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let Ok(req) = b.body(Full::new(shape.body.clone())) else {
        return false;
    };
    match client.request(req).await {
        Ok(res) => {
            let ok = res.status().is_success();
            ok && res.into_body().collect().await.is_ok()
        }
        Err(_) => false,
    }
}

/// Nearest-rank percentile of sorted microsecond samples.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summarize(mut lat: Vec<f64>, errors: usize, elapsed: Duration) -> Stats {
    lat.sort_by(f64::total_cmp);
    Stats {
        ok: lat.len(),
        errors,
        p50_us: percentile(&lat, 50.0),
        p90_us: percentile(&lat, 90.0),
        p99_us: percentile(&lat, 99.0),
        throughput: lat.len() as f64 / elapsed.as_secs_f64(),
    }
}

/// Fixed-rate (open-loop) load for `duration`.
pub async fn open_loop(
    client: &LoadClient,
    shape: &RequestShape,
    rate: u32,
    duration: Duration,
) -> Stats {
    let shape = Arc::new(shape.clone());
    let period = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let start = Instant::now();
    let total = (duration.as_secs_f64() * f64::from(rate)) as usize;
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        let due = start + period * i as u32;
        tokio::time::sleep_until(due.into()).await;
        let (client, shape) = (client.clone(), shape.clone());
        tasks.push(tokio::spawn(async move {
            let ok = send_once(&client, &shape).await;
            (ok, due.elapsed())
        }));
    }
    let mut lat = Vec::with_capacity(total);
    let mut errors = 0;
    for t in tasks {
        match t.await {
            Ok((true, d)) => lat.push(d.as_secs_f64() * 1e6),
            _ => errors += 1,
        }
    }
    summarize(lat, errors, start.elapsed())
}

/// Closed-loop saturation: `concurrency` clients sending back to back for `duration`.
pub async fn closed_loop(
    client: &LoadClient,
    shape: &RequestShape,
    concurrency: usize,
    duration: Duration,
) -> Stats {
    let shape = Arc::new(shape.clone());
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, shape) = (client.clone(), shape.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                if send_once(&client, &shape).await {
                    lat.push(t.elapsed().as_secs_f64() * 1e6);
                } else {
                    errors += 1;
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors = 0;
    for t in tasks {
        if let Ok((l, e)) = t.await {
            lat.extend(l);
            errors += e;
        }
    }
    summarize(lat, errors, start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert!((percentile(&v, 50.0) - 50.0).abs() < f64::EPSILON);
        assert!((percentile(&v, 99.0) - 99.0).abs() < f64::EPSILON);
        assert!((percentile(&v, 100.0) - 100.0).abs() < f64::EPSILON);
        assert!(percentile(&[], 50.0).is_nan());
    }
}
