//! Benchmark reports: a measurement per side, the ratio to the baseline, as
//! JSON and as a short human summary.
use hdrhistogram::Histogram;
use serde::Serialize;
use std::time::Duration;

/// One side of a comparison.
#[derive(Debug, Clone, Serialize)]
pub struct Measured {
    pub label: String,
    pub count: u64,
    pub errors: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub latency_us: Latency,
}

/// Latency quantiles, microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Measured {
    pub fn from_hist(
        label: &str,
        count: u64,
        errors: u64,
        elapsed: Duration,
        h: &Histogram<u64>,
    ) -> Measured {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Measured {
            label: label.into(),
            count,
            errors,
            seconds: secs,
            per_second: (count - errors.min(count)) as f64 / secs,
            latency_us: Latency {
                p50: h.value_at_quantile(0.5),
                p90: h.value_at_quantile(0.9),
                p99: h.value_at_quantile(0.99),
                p999: h.value_at_quantile(0.999),
                max: h.max(),
            },
        }
    }
}

/// A measurement side by side with its baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: String,
    pub subject: Measured,
    pub baseline: Measured,
    /// subject rate ÷ baseline rate.
    pub ratio: f64,
    /// A second baseline where the mode has one (gRPC: the durable no-op,
    /// the storage limit), and subject rate ÷ its rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable: Option<(Measured, f64)>,
}

impl Report {
    pub fn new(mode: String, subject: Measured, baseline: Measured) -> Report {
        let ratio = if baseline.per_second > 0.0 {
            subject.per_second / baseline.per_second
        } else {
            0.0
        };
        Report {
            mode,
            subject,
            baseline,
            ratio,
            durable: None,
        }
    }

    /// With a second baseline.
    pub fn with_durable(mut self, d: Measured) -> Report {
        let r = if d.per_second > 0.0 {
            self.subject.per_second / d.per_second
        } else {
            0.0
        };
        self.durable = Some((d, r));
        self
    }
}

impl Printed for Report {
    /// A few lines for people.
    fn summary(&self) -> String {
        let line = |m: &Measured| {
            format!(
                "  {:<12} {:>9.0}/s  {} in {:.2}s, {} errors, latency p50 {} µs p99 {} µs p99.9 {} µs max {} µs",
                m.label, m.per_second, m.count, m.seconds, m.errors, m.latency_us.p50, m.latency_us.p99, m.latency_us.p999, m.latency_us.max
            )
        };
        let durable = self
            .durable
            .as_ref()
            .map(|(d, r)| format!("\n{}\n  ratio to the durable no-op {r:.3}", line(d)))
            .unwrap_or_default();
        format!(
            "{}\n{}\n{}\n  ratio {:.3}{durable}",
            self.mode,
            line(&self.subject),
            line(&self.baseline),
            self.ratio
        )
    }
}

/// A benchmark's result as the short human summary or as JSON.
pub trait Printed: Serialize {
    fn summary(&self) -> String;

    /// The `--json` form; by default every field.
    fn json(&self) -> anyhow::Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// Prints the JSON form or the summary on stdout.
    fn print(&self, json: bool) -> anyhow::Result<()> {
        use std::io::Write;
        let text = if json { self.json()? } else { self.summary() };
        writeln!(std::io::stdout(), "{text}")?;
        Ok(())
    }
}

/// This process's resident memory, bytes (Linux `/proc/self/statm`; 0 elsewhere).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}
