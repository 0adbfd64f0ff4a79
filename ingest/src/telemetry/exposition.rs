//! Reading the recorder's own Prometheus text exposition back (what
//! `/metrics` serves): the wallboard takes its counters and gauges from it,
//! so the screen shows exactly what Prometheus scrapes.

/// A sample's labels, (name, value) in the order printed.
type Labels = Vec<(String, String)>;

/// The samples of one exposition: (name, labels, value).
#[derive(Debug, Default)]
pub struct Exposition {
    samples: Vec<(String, Labels, f64)>,
}

/// `{a="x",b="y\"z"}` → [(a, x), (b, y"z)]; None when malformed.
fn labels(s: &str) -> Option<Labels> {
    let mut out = Vec::new();
    let mut rest = s.strip_prefix('{')?.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return r.trim().is_empty().then_some(out);
        }
        let (name, r) = rest.split_once('=')?;
        let mut r = r.strip_prefix('"')?.chars();
        let mut value = String::new();
        loop {
            match r.next()? {
                '\\' => match r.next()? {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                '"' => break,
                c => value.push(c),
            }
        }
        out.push((name.trim().to_string(), value));
        rest = r.as_str().trim_start();
        rest = rest.strip_prefix(',').unwrap_or(rest).trim_start();
    }
}

impl Exposition {
    /// Parses the text format; lines it cannot read are skipped.
    pub fn parse(text: &str) -> Exposition {
        let mut samples = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (series, value) = match line.rsplit_once(' ') {
                Some(x) => x,
                None => continue,
            };
            let Ok(value) = value.parse::<f64>() else {
                continue;
            };
            let (name, ls) = match series.find('{') {
                Some(i) => match labels(&series[i..]) {
                    Some(l) => (&series[..i], l),
                    None => continue,
                },
                None => (series, Vec::new()),
            };
            samples.push((name.to_string(), ls, value));
        }
        Exposition { samples }
    }

    /// The sum of the samples of `name` whose labels include every pair of `with`.
    pub fn sum(&self, name: &str, with: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, ls, _)| {
                n == name
                    && with
                        .iter()
                        .all(|(k, v)| ls.iter().any(|(lk, lv)| lk == k && lv == v))
            })
            .fold(0.0, |a, (_, _, v)| a + v)
    }

    /// A histogram's cumulative buckets summed over its label sets, as
    /// (upper bound, count), by increasing bound (`+Inf` last).
    pub fn buckets(&self, name: &str) -> Vec<(f64, f64)> {
        let bucket = format!("{name}_bucket");
        let mut out: Vec<(f64, f64)> = Vec::new();
        for (n, ls, v) in &self.samples {
            if *n != bucket {
                continue;
            }
            let Some(le) = ls.iter().find(|(k, _)| k == "le").and_then(|(_, v)| {
                if v == "+Inf" {
                    Some(f64::INFINITY)
                } else {
                    v.parse().ok()
                }
            }) else {
                continue;
            };
            match out.iter_mut().find(|(l, _)| *l == le) {
                Some(e) => e.1 += v,
                None => out.push((le, *v)),
            }
        }
        out.sort_by(|a, b| a.0.total_cmp(&b.0));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Exposition;

    #[test]
    fn sums_samples_by_name_and_labels_and_merges_histogram_buckets() {
        let x = Exposition::parse(
            "# HELP a x\n# TYPE a counter\n\
             a{kind=\"X\",q=\"1\"} 2\na{kind=\"Y\"} 3\na{kind=\"X\",q=\"2\"} 4\nb 7.5\n\
             h_bucket{m=\"s\",le=\"0.1\"} 1\nh_bucket{m=\"s\",le=\"+Inf\"} 2\n\
             h_bucket{m=\"t\",le=\"0.1\"} 3\nh_bucket{m=\"t\",le=\"+Inf\"} 5\n\
             c{v=\"a \\\"quoted\\\", comma\"} 1\nbroken{ 9\n",
        );
        assert_eq!(x.sum("a", &[("kind", "X")]), 6.0);
        assert_eq!(x.sum("a", &[]), 9.0);
        assert_eq!(x.sum("b", &[]), 7.5);
        assert_eq!(x.sum("c", &[("v", "a \"quoted\", comma")]), 1.0);
        assert_eq!(x.sum("broken", &[]), 0.0);
        assert_eq!(x.buckets("h"), vec![(0.1, 4.0), (f64::INFINITY, 7.0)]);
    }
}
