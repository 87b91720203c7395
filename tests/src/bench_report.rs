//! Reading the edge's Prometheus text for the benchmark: the plugin call-time histogram,
//! diffed between two scrapes so only the measured phase counts.

/// Cumulative `(le, count)` buckets plus sum and count of one histogram, summed over every
/// label set whose metric name contains `name_part`.
#[derive(Clone, Debug, Default)]
pub struct Histogram {
    pub buckets: Vec<(f64, f64)>,
    pub sum: f64,
    pub count: f64,
}

fn value(line: &str) -> Option<f64> {
    line.rsplit(' ').next()?.parse().ok()
}

fn le(line: &str) -> Option<f64> {
    let start = line.find("le=\"")? + 4;
    let rest = &line[start..];
    let end = rest.find('"')?;
    match &rest[..end] {
        "+Inf" => Some(f64::INFINITY),
        v => v.parse().ok(),
    }
}

/// Parses the histogram whose name contains `name_part` (e.g. `plugin_call_duration`).
pub fn histogram(text: &str, name_part: &str) -> Histogram {
    let mut h = Histogram::default();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(name_part))
    {
        let name = line.split(['{', ' ']).next().unwrap_or("");
        if name.ends_with("_bucket") {
            if let (Some(le), Some(v)) = (le(line), value(line)) {
                match h.buckets.iter_mut().find(|(b, _)| {
                    (*b - le).abs() < f64::EPSILON || (b.is_infinite() && le.is_infinite())
                }) {
                    Some((_, c)) => *c += v,
                    None => h.buckets.push((le, v)),
                }
            }
        } else if name.ends_with("_sum") {
            h.sum += value(line).unwrap_or(0.0);
        } else if name.ends_with("_count") {
            h.count += value(line).unwrap_or(0.0);
        }
    }
    h.buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    h
}

impl Histogram {
    /// `self - earlier`, bucket by bucket.
    pub fn since(&self, earlier: &Histogram) -> Histogram {
        let buckets = self
            .buckets
            .iter()
            .map(|(le, c)| {
                let before = earlier
                    .buckets
                    .iter()
                    .find(|(b, _)| {
                        (*b - *le).abs() < f64::EPSILON || (b.is_infinite() && le.is_infinite())
                    })
                    .map(|(_, c)| *c)
                    .unwrap_or(0.0);
                (*le, c - before)
            })
            .collect();
        Histogram {
            buckets,
            sum: self.sum - earlier.sum,
            count: self.count - earlier.count,
        }
    }

    /// Mean in seconds.
    pub fn mean(&self) -> f64 {
        if self.count > 0.0 {
            self.sum / self.count
        } else {
            f64::NAN
        }
    }

    /// Quantile in seconds, interpolated linearly inside the bucket that holds it.
    pub fn quantile(&self, q: f64) -> f64 {
        let total = self.count;
        if total <= 0.0 {
            return f64::NAN;
        }
        let target = q * total;
        let mut prev_le = 0.0;
        let mut prev_c = 0.0;
        for &(le, c) in &self.buckets {
            if c >= target {
                if le.is_infinite() {
                    return prev_le;
                }
                let in_bucket = c - prev_c;
                let frac = if in_bucket > 0.0 {
                    (target - prev_c) / in_bucket
                } else {
                    1.0
                };
                return prev_le + (le - prev_le) * frac;
            }
            prev_le = le;
            prev_c = c;
        }
        prev_le
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_interpolates() {
        let text = "\
# TYPE edge_plugin_call_duration_seconds histogram
edge_plugin_call_duration_seconds_bucket{export=\"on_http_request\",le=\"0.00001\"} 50
edge_plugin_call_duration_seconds_bucket{export=\"on_http_request\",le=\"0.00002\"} 100
edge_plugin_call_duration_seconds_bucket{export=\"on_http_request\",le=\"+Inf\"} 100
edge_plugin_call_duration_seconds_sum{export=\"on_http_request\"} 0.0012
edge_plugin_call_duration_seconds_count{export=\"on_http_request\"} 100
";
        let h = histogram(text, "plugin_call_duration");
        assert_eq!(h.buckets.len(), 3);
        assert!((h.quantile(0.5) - 0.00001).abs() < 1e-12);
        assert!((h.quantile(0.75) - 0.000015).abs() < 1e-12);
        assert!((h.mean() - 0.000012).abs() < 1e-12);
        let earlier = Histogram {
            buckets: vec![(0.00001, 50.0), (0.00002, 50.0), (f64::INFINITY, 50.0)],
            sum: 0.0006,
            count: 50.0,
        };
        let d = h.since(&earlier);
        assert!((d.count - 50.0).abs() < f64::EPSILON);
        assert!((d.quantile(0.5) - 0.000015).abs() < 1e-12);
    }
}
