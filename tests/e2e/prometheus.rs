//! The operators' dashboard and alerting rules against a real Prometheus
//! (issue 16): a tickroom server with a few bots playing, their own metrics
//! exporter (`tickroom-bots --metrics-addr`) on a loopback port, a throwaway
//! `prometheus` (Debian's package) on a free loopback port scraping both
//! every second (jobs `tickroom` and `tickroom-bots`), and every PromQL
//! expression of `docs/grafana/tickroom.json` (the bots' row included) and
//! `docs/prometheus/tickroom-rules.yml` run through Prometheus' HTTP API
//! until it returns data. A query with a typo in a series or label name
//! returns nothing and fails here, naming it.
//!
//! For an alert the expression as a whole must evaluate (it returns nothing
//! while nothing is wrong), and the left-hand side of its comparison must
//! return data. Prometheus also loads the rules file, and every rule must be
//! evaluated healthy. `promtool` checks the rules and the example config.
//!
//! Every wait is bounded; the test asserts data presence only.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::Value;
use tickroom_bots::{
    Placement, SwarmConfig,
    exporter::{self, BotMetrics},
};

use crate::util::{
    capture_output, free_port, poll_until, required_program, run_with_limit, runs, start, temp_dir,
    test_config,
};

/// How long a started prometheus has to answer `/-/ready`.
pub const START_LIMIT: Duration = Duration::from_secs(20);

/// Starts tried before giving up, each on a fresh port.
const ATTEMPTS: usize = 3;

/// How long each expression may take to return data: a few scrapes (1 s
/// apart) are needed before `rate()` over them has two samples.
const QUERY_LIMIT: Duration = Duration::from_secs(60);

/// The `job` label the rules select on (`up{job="tickroom"}`).
const JOB: &str = "tickroom";

/// The bots' exporter's job, named as in `docs/prometheus/prometheus.yml`.
const BOTS_JOB: &str = "tickroom-bots";

/// A dashboard target with `"tickroom_test": "cluster"` needs a cluster to
/// return data: skipped here (and printed). None is marked so today.
const CLUSTER_MARK: &str = "cluster";

fn docs(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../docs")
        .join(path)
}

/// Whether `prometheus` and `promtool` can be run here.
fn available() -> bool {
    ["prometheus", "promtool"].into_iter().all(runs)
}

/// `true` when the test should run; `false` (after a loud message) when it
/// should be skipped. Under `CI=true` a missing prometheus fails instead.
fn required_by(test: &str) -> bool {
    required_program(
        test,
        "prometheus/promtool are",
        available(),
        "install it with `apt-get install -y --no-install-recommends prometheus` (scripts/test does, as root)",
    )
}

/// A throwaway prometheus scraping one target per job every second and
/// loading `rules`; killed (by pid) and waited for on drop, its directory
/// removed.
struct PromServer {
    addr: SocketAddr,
    dir: PathBuf,
    child: Option<Child>,
    log: Arc<Mutex<Vec<u8>>>,
}

impl PromServer {
    /// `jobs` as (job name, target).
    async fn start(jobs: &[(&str, SocketAddr)], rules: &Path) -> PromServer {
        let dir = temp_dir("prometheus");
        let config = dir.join("prometheus.yml");
        let scrapes: String = jobs
            .iter()
            .map(|(job, target)| {
                format!(
                    "  - job_name: {job}\n    metrics_path: /metrics\n    \
                     static_configs:\n      - targets: ['{target}']\n"
                )
            })
            .collect();
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
                 rule_files:\n  - {rules}\n\
                 scrape_configs:\n{scrapes}",
                rules = rules.display()
            ),
        )
        .expect("write prometheus.yml");
        let mut server = PromServer {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            dir,
            child: None,
            log: Arc::new(Mutex::new(Vec::new())),
        };
        for _ in 0..ATTEMPTS {
            server.addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
            if server.spawn(&config).await {
                return server;
            }
        }
        panic!(
            "prometheus did not become ready in {ATTEMPTS} starts:\n{}",
            server.log()
        );
    }

    fn log(&self) -> String {
        String::from_utf8_lossy(&self.log.lock().expect("prometheus log lock")).into_owned()
    }

    /// Starts a process on `self.addr`; `true` once `/-/ready` answers 200,
    /// `false` (the process killed) if it exited or stayed unready for [`START_LIMIT`].
    async fn spawn(&mut self, config: &Path) -> bool {
        self.log.lock().expect("prometheus log lock").clear();
        let data = self.dir.join("data");
        let mut child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address={}", self.addr))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not run prometheus (is it installed?): {e}"));
        capture_output(&mut child, &self.log);
        let deadline = tokio::time::Instant::now() + START_LIMIT;
        loop {
            if self.get("/-/ready").await.is_ok_and(|(s, _)| s == 200) {
                self.child = Some(child);
                return true;
            }
            let exited = matches!(child.try_wait(), Ok(Some(_)));
            if exited || tokio::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// GET `path`; the status and body, or why there was none.
    async fn get(&self, path: &str) -> Result<(u16, String), String> {
        let r = tokio::time::timeout(
            Duration::from_secs(5),
            tickroom_bots::http::request(self.addr, "GET", path, &[], bytes::Bytes::new()),
        )
        .await
        .map_err(|_| format!("GET {path}: no answer in 5 s"))?
        .map_err(|e| format!("GET {path}: {e}"))?;
        Ok((r.status, String::from_utf8_lossy(&r.body).into_owned()))
    }

    /// Runs an instant query; the number of samples it returned that hold a
    /// number (a `histogram_quantile` over buckets that saw nothing in the
    /// window answers NaN: not data yet). A query Prometheus rejects (bad
    /// syntax, bad function) is a hard error.
    async fn query(&self, expr: &str) -> Result<usize, String> {
        let (status, body) = self
            .get(&format!("/api/v1/query?query={}", encode(expr)))
            .await?;
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("query `{expr}`: answer is not JSON ({e}): {body}"));
        assert!(
            status == 200 && v["status"] == "success",
            "Prometheus rejected `{expr}` ({status}): {body}"
        );
        let result = &v["data"]["result"];
        Ok(match v["data"]["resultType"].as_str() {
            Some("vector") => result
                .as_array()
                .into_iter()
                .flatten()
                .filter(|sample| sample["value"][1] != "NaN")
                .count(),
            Some("matrix") => result
                .as_array()
                .into_iter()
                .flatten()
                .filter(|series| {
                    series["values"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|v| v[1] != "NaN")
                })
                .count(),
            Some("scalar" | "string") => 1,
            other => panic!("query `{expr}`: unexpected result type {other:?}: {body}"),
        })
    }

    /// Polls `expr` until it returns at least one sample; panics naming it
    /// after [`QUERY_LIMIT`].
    async fn wait_data(&self, what: &str, expr: &str) -> usize {
        poll_until(
            format!("{what}: `{expr}` to return data from Prometheus"),
            QUERY_LIMIT,
            Duration::from_millis(500),
            || async {
                match self.query(expr).await? {
                    0 => Err("no samples".to_owned()),
                    n => Ok(n),
                }
            },
        )
        .await
    }
}

impl Drop for PromServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Percent-encodes a query-string value (RFC 3986 unreserved characters kept).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One dashboard query: where it is, its PromQL, and its `tickroom_test` mark.
struct Target {
    panel: String,
    expr: String,
    mark: Option<String>,
}

/// Every target with an `expr` in the dashboard, rows' nested panels included.
fn dashboard_targets(dashboard: &Value) -> Vec<Target> {
    fn walk(panels: &Value, out: &mut Vec<Target>) {
        for panel in panels.as_array().into_iter().flatten() {
            let title = panel["title"].as_str().unwrap_or("?").to_owned();
            for t in panel["targets"].as_array().into_iter().flatten() {
                let expr = t["expr"]
                    .as_str()
                    .unwrap_or_else(|| panic!("panel {title:?}: a target without an expr"));
                let mark = t["tickroom_test"]
                    .as_str()
                    .or_else(|| panel["tickroom_test"].as_str())
                    .map(str::to_owned);
                out.push(Target {
                    panel: title.clone(),
                    expr: expr.to_owned(),
                    mark,
                });
            }
            walk(&panel["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// Every rule of the rules file as (name, expr). The file keeps each `expr`
/// on one line (checked: one per rule, none a YAML block scalar).
fn rules(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut name = None;
    for line in text.lines().map(str::trim) {
        if let Some(n) = line
            .strip_prefix("- alert:")
            .or_else(|| line.strip_prefix("- record:"))
        {
            assert!(name.is_none(), "rule {name:?} has no expr line");
            name = Some(n.trim().to_owned());
        } else if let Some(expr) = line.strip_prefix("expr:") {
            let expr = expr.trim();
            assert!(
                !expr.starts_with(['|', '>']),
                "keep each rule's expr on one line (parsed by this test): {expr}"
            );
            let name = name.take().expect("an expr line outside a rule");
            out.push((name, expr.to_owned()));
        }
    }
    assert!(name.is_none(), "rule {name:?} has no expr line");
    out
}

/// The left-hand side of the first comparison outside brackets and quotes,
/// or `None` when the expression compares nothing (`a > b` gives `a`).
fn comparison_lhs(expr: &str) -> Option<&str> {
    let bytes = expr.as_bytes();
    let (mut depth, mut quote) = (0i32, None);
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(q) = quote {
            if b == q && bytes[i - 1] != b'\\' {
                quote = None;
            }
            continue;
        }
        match b {
            b'"' | b'\'' | b'`' => quote = Some(b),
            b'(' | b'{' | b'[' => depth += 1,
            b')' | b'}' | b']' => depth -= 1,
            b'>' | b'<' if depth == 0 => return Some(expr[..i].trim()),
            b'=' | b'!' if depth == 0 && bytes.get(i + 1) == Some(&b'=') => {
                return Some(expr[..i].trim());
            }
            _ => {}
        }
    }
    None
}

#[test]
fn comparison_lhs_splits_at_the_top_level_comparison() {
    assert_eq!(comparison_lhs("up{job=\"a\"} == 0"), Some("up{job=\"a\"}"));
    assert_eq!(
        comparison_lhs("sum(rate(x{r!=\"a>b\"}[5m])) / y >= 0.5"),
        Some("sum(rate(x{r!=\"a>b\"}[5m])) / y")
    );
    assert_eq!(comparison_lhs("a < max_over_time(a[1h])"), Some("a"));
    assert_eq!(comparison_lhs("sum by (le) (rate(x[1m]))"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dashboard_query_and_alert_rule_returns_data_from_a_real_prometheus() {
    let test = "every_dashboard_query_and_alert_rule_returns_data_from_a_real_prometheus";
    if !required_by(test) {
        return;
    }
    let dashboard_path = docs("grafana/tickroom.json");
    let rules_path = docs("prometheus/tickroom-rules.yml")
        .canonicalize()
        .expect("docs/prometheus/tickroom-rules.yml");
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(&dashboard_path).expect("read docs/grafana/tickroom.json"),
    )
    .expect("docs/grafana/tickroom.json is JSON");
    let targets = dashboard_targets(&dashboard);
    let rules = rules(&std::fs::read_to_string(&rules_path).expect("read the rules file"));
    assert!(
        targets.len() >= 30,
        "only {} dashboard queries",
        targets.len()
    );
    assert!(
        targets.iter().any(|t| t.expr.contains("tickroom_bots_")),
        "no dashboard query reads the bots' series"
    );
    assert!(rules.len() >= 6, "only {} rules", rules.len());

    // promtool: the rules file, and the example config (which loads it too).
    let config_path = docs("prometheus/prometheus.yml");
    for (what, path) in [("rules", &rules_path), ("config", &config_path)] {
        let mut cmd = Command::new("promtool");
        cmd.args(["check", what]).arg(path);
        let (code, out, err, _) =
            tokio::task::spawn_blocking(move || run_with_limit(cmd, Duration::from_secs(30)))
                .await
                .expect("promtool");
        assert_eq!(
            code,
            Some(0),
            "promtool check {what} {}:\n{out}\n{err}",
            path.display()
        );
    }

    let server = start(test_config()).await;
    let addr = server.local_addr();
    // The bots' exporter, as `--metrics-addr 127.0.0.1:0` would start it.
    let bot_metrics = BotMetrics::new();
    let bots_addr = exporter::start(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        Arc::clone(&bot_metrics),
    )
    .await
    .expect("the bots' exporter binds a loopback port");
    let prom = PromServer::start(&[(JOB, addr), (BOTS_JOB, bots_addr)], &rules_path).await;

    // Both targets are scraped and up before the bots connect: the bots'
    // series (every one registered at 0 when the exporter starts) then have
    // samples from before the ramp-up, and rates over it see the connects.
    for job in [JOB, BOTS_JOB] {
        prom.wait_data(
            &format!("the {job} scrape target"),
            &format!("up{{job=\"{job}\"}} == 1"),
        )
        .await;
    }

    // A few bots in two rooms play while the queries are polled, recording
    // into the exporter.
    let swarm = SwarmConfig {
        url: format!("http://{addr}"),
        placement: Placement::Rooms {
            rooms: 2,
            per_room: 3,
        },
        connect_timeout: Duration::from_secs(30),
        seed: 16,
        metrics: Some(bot_metrics),
        ..SwarmConfig::default()
    };
    let checked = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&checked);
    let prom_ref = &prom;
    let targets_ref = &targets;
    let rules_ref = &rules;
    let checks = async move {
        // Every dashboard query, the bots' row as much as the server's.
        for t in targets_ref {
            if t.mark.as_deref() == Some(CLUSTER_MARK) {
                println!("skipped (needs a cluster): panel {:?}: {}", t.panel, t.expr);
                continue;
            }
            let n = prom_ref
                .wait_data(&format!("dashboard panel {:?}", t.panel), &t.expr)
                .await;
            sink.lock()
                .expect("lock")
                .push(format!("{n} series: {}", t.expr));
        }
        for (name, expr) in rules_ref {
            // The whole alert expression evaluates (empty while all is well) ...
            prom_ref
                .query(expr)
                .await
                .expect("query the alert expression");
            // ... and what it compares returns data.
            let lhs = comparison_lhs(expr).unwrap_or(expr);
            let n = prom_ref.wait_data(&format!("rule {name}"), lhs).await;
            sink.lock()
                .expect("lock")
                .push(format!("{n} series: {lhs}"));
        }
        // Prometheus loaded the rules file and evaluates every rule cleanly.
        poll_until(
            "every rule in /api/v1/rules evaluated with health \"ok\"",
            QUERY_LIMIT,
            Duration::from_millis(500),
            || async {
                let (_, body) = prom_ref.get("/api/v1/rules").await?;
                let v: Value = serde_json::from_str(&body).map_err(|e| e.to_string())?;
                let loaded: Vec<(String, String)> = v["data"]["groups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|g| g["rules"].as_array().into_iter().flatten())
                    .map(|r| {
                        (
                            r["name"].as_str().unwrap_or("?").to_owned(),
                            r["health"].as_str().unwrap_or("?").to_owned(),
                        )
                    })
                    .collect();
                if loaded.len() == rules_ref.len() && loaded.iter().all(|(_, h)| h == "ok") {
                    Ok(())
                } else {
                    Err(format!("{loaded:?}"))
                }
            },
        )
        .await;
    };
    let report = tickroom_bots::run(swarm, checks)
        .await
        .expect("the swarm runs");
    server.shutdown().await;
    drop(prom);

    for line in checked.lock().expect("lock").iter() {
        println!("{line}");
    }
    assert_eq!(report.bots, 6);
    let skipped = targets
        .iter()
        .filter(|t| t.mark.as_deref() == Some(CLUSTER_MARK))
        .count();
    assert_eq!(
        checked.lock().expect("lock").len(),
        targets.len() - skipped + rules.len(),
        "every dashboard query and every rule was checked"
    );
}
