//! Divergences grouped by class: printed, written in full to
//! `target/difffuzz/<filter>-seed<S>.md`, and appended (new classes only) to
//! the shared findings file `<findings>/<filter>.md`.

use super::compare::Divergence;
use super::request::Req;
use portico_harness::workspace_root;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

struct Class {
    count: u64,
    first: Divergence,
    earlier: Vec<Req>,
}

pub struct Report {
    filter: String,
    seed: u64,
    classes: BTreeMap<String, Class>,
    /// The refined classes each raw class (generator tag and differing
    /// parts) was found to be, when its first example was shrunk.
    refined: BTreeMap<String, Vec<String>>,
    total: u64,
}

/// Repeats of a class printed as one line each, before going quiet.
const QUIET_AFTER: u64 = 5;

impl Report {
    pub fn new(filter: &str, seed: u64) -> Report {
        Report {
            filter: filter.to_string(),
            seed,
            classes: BTreeMap::new(),
            refined: BTreeMap::new(),
            total: 0,
        }
    }

    /// Counts `d` under each of its classes; a class seen for the first
    /// time keeps `d` as its example and prints it in full.
    pub fn add(&mut self, d: Divergence, earlier: &[Req]) {
        self.total += 1;
        for class in d.classes.clone() {
            if let Some(c) = self.classes.get_mut(&class) {
                c.count += 1;
                if c.count <= QUIET_AFTER {
                    println!(
                        "difffuzz: {} case {} step {}: again {class}",
                        self.filter, d.case, d.step
                    );
                }
                continue;
            }
            println!("{}", self.entry(&class, &d, earlier, 1, true));
            self.classes.insert(
                class,
                Class {
                    count: 1,
                    first: d.clone(),
                    earlier: earlier.to_vec(),
                },
            );
        }
    }

    /// The refined classes of a raw class seen before.
    pub fn refined_of(&self, raw: &str) -> Option<&Vec<String>> {
        self.refined.get(raw)
    }

    pub fn remember(&mut self, raw: &[String], refined: &[String]) {
        for r in raw {
            self.refined
                .entry(r.clone())
                .or_insert_with(|| refined.to_vec());
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn classes(&self) -> usize {
        self.classes.len()
    }

    fn entry(
        &self,
        class: &str,
        d: &Divergence,
        earlier: &[Req],
        count: u64,
        full: bool,
    ) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "### {class}\n");
        let _ = writeln!(
            s,
            "- seed {}, case {}, step {}, listener pair `{}`; {count} occurrence(s) in this run",
            self.seed, d.case, d.step, d.pair
        );
        let _ = writeln!(
            s,
            "- replay: `cargo xtask difffuzz --filter {} --seed {} --case {}`",
            self.filter, self.seed, d.case
        );
        let _ = writeln!(s, "- generated as: {}", d.req.note);
        let _ = writeln!(s, "- differences:");
        for l in &d.lines {
            let _ = writeln!(s, "  - {l}");
        }
        if !earlier.is_empty() {
            let _ = writeln!(
                s,
                "- after these earlier requests of the same case (to both listeners):\n```"
            );
            for r in earlier {
                s.push_str(&r.describe());
                s.push_str("--\n");
            }
            s.push_str("```\n");
        }
        let _ = writeln!(s, "- request:\n```\n{}```", d.req.describe());
        if full {
            let _ = writeln!(s, "- native answered:\n```\n{}```", d.native.describe());
            let _ = writeln!(s, "- portico answered:\n```\n{}```", d.portico.describe());
        } else {
            let _ = writeln!(s, "- native answered: {}", d.native.brief());
            let _ = writeln!(s, "- portico answered: {}", d.portico.brief());
        }
        let curl = d.req.curl("PORT");
        if full && curl.len() <= 6000 {
            let _ = writeln!(s, "- curl: `{curl}`");
        }
        s
    }

    /// Writes the run's file and appends new classes to the findings file.
    pub fn write(
        &self,
        findings: Option<&Path>,
        requests: u64,
        elapsed: Duration,
    ) -> Result<(), String> {
        let summary = format!(
            "difffuzz {}: seed {}, {requests} requests in {:.0} s, {} divergences in {} classes\n\n",
            self.filter,
            self.seed,
            elapsed.as_secs_f64(),
            self.total,
            self.classes.len()
        );
        let dir = workspace_root().join("target/difffuzz");
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let mut full = summary.clone();
        for (name, c) in &self.classes {
            full.push_str(&self.entry(name, &c.first, &c.earlier, c.count, true));
            full.push('\n');
        }
        let path = dir.join(format!("{}-seed{}.md", self.filter, self.seed));
        std::fs::write(&path, full).map_err(|e| format!("write {}: {e}", path.display()))?;
        eprintln!("difffuzz: {} written", path.display());
        let Some(findings) = findings else {
            return Ok(());
        };
        std::fs::create_dir_all(findings)
            .map_err(|e| format!("create {}: {e}", findings.display()))?;
        let path = findings.join(format!("{}.md", self.filter));
        let existing = std::fs::read_to_string(&path).unwrap_or_default();
        let mut add = String::new();
        if existing.is_empty() {
            let _ = writeln!(
                add,
                "# difffuzz findings: {}\n\nWritten by `cargo xtask difffuzz` (xtask/src/difffuzz/), one entry per divergence class \
                 (generator tag, listener pair, the parts that differ). Entries are appended; a class already here is not \
                 repeated. The full answers and a curl line of each class are in the run's \
                 `target/difffuzz/<filter>-seed<S>.md` of the clone that ran it, or replay the case. Handle an entry by appending `FIXED in <commit>: ...` or `DELIBERATE: ...` under it.\n",
                self.filter
            );
        }
        let mut new = 0;
        for (name, c) in &self.classes {
            if existing.contains(&format!("### {name}\n")) {
                continue;
            }
            new += 1;
            add.push_str(&self.entry(name, &c.first, &c.earlier, c.count, false));
            add.push('\n');
        }
        if add.is_empty() {
            return Ok(());
        }
        let _ = write!(add, "<!-- run: {summary}-->\n\n");
        use std::io::Write as _;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(add.as_bytes()))
            .map_err(|e| format!("append to {}: {e}", path.display()))?;
        eprintln!(
            "difffuzz: {new} new class(es) appended to {}",
            path.display()
        );
        Ok(())
    }
}
