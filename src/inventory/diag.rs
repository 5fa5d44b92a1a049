//! Inventory diagnostics: `file:line:col: path: message`, a caret under the spot, and a hint.
//!
//! Parse errors come from serde-saphyr with a location but no field path; [`PathIndex`] walks the
//! YAML events once to name the path at any line:col, so every error reads the same way.

use std::fmt;
use std::path::PathBuf;

use serde_saphyr::granit_parser::{Event, Parser};

/// One problem in the inventory, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// 1-indexed; 0 when unknown.
    pub line: u64,
    /// 1-indexed; 0 when unknown.
    pub column: u64,
    /// Field path such as `nodes[2].name`; empty for the document itself.
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(line: u64, column: u64, path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { line, column, path: path.into(), message: message.into(), hint: None }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Every problem found in one inventory file: rendered all at once.
#[derive(Debug)]
pub struct InventoryError {
    pub file: PathBuf,
    pub source_text: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl std::error::Error for InventoryError {}

impl fmt::Display for InventoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.diagnostics.len();
        writeln!(
            f,
            "inventory `{}` is invalid ({n} error{}); nothing was run",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        let lines: Vec<&str> = self.source_text.lines().collect();
        for d in &self.diagnostics {
            let path = if d.path.is_empty() { String::new() } else { format!("{}: ", d.path) };
            writeln!(f, "{}:{}:{}: {path}{}", self.file.display(), d.line, d.column, d.message)?;
            if d.line > 0
                && let Some(text) = lines.get(d.line as usize - 1)
            {
                let num = d.line.to_string();
                let pad = " ".repeat(num.len());
                writeln!(f, " {num} | {text}")?;
                let col = (d.column.max(1) - 1) as usize;
                let lead: String = text.chars().take(col).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
                writeln!(f, " {pad} | {lead}^")?;
            }
            if let Some(hint) = &d.hint {
                writeln!(f, "  help: {hint}")?;
            }
        }
        Ok(())
    }
}

/// Maps positions in a YAML document to the field path of the node there.
pub struct PathIndex {
    /// (line, column, path), 1-indexed, in document order.
    entries: Vec<(u64, u64, String)>,
}

enum Frame {
    Map { key: Option<String>, base: String },
    Seq { index: usize, base: String },
}

impl PathIndex {
    pub fn build(text: &str) -> PathIndex {
        let mut entries = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        for ev in Parser::new_from_str(text) {
            let Ok((event, span)) = ev else { break };
            let line = span.start.line() as u64;
            let col = span.start.col() as u64 + 1;
            let is_node = matches!(
                event,
                Event::Scalar(..) | Event::MappingStart(..) | Event::SequenceStart(..) | Event::Alias(..)
            );
            if is_node {
                // Where does this node sit? As a key, as a value, or as an item.
                let mut key_scalar = None;
                let path = match stack.last_mut() {
                    None => String::new(),
                    Some(Frame::Map { key, base }) => match key.take() {
                        None => {
                            let name = match &event {
                                Event::Scalar(v, ..) => v.to_string(),
                                _ => "?".to_string(),
                            };
                            let p = join_key(base, &name);
                            key_scalar = Some(name);
                            p
                        }
                        Some(k) => join_key(base, &k),
                    },
                    Some(Frame::Seq { index, base }) => {
                        let p = format!("{base}[{index}]");
                        *index += 1;
                        p
                    }
                };
                entries.push((line, col, path.clone()));
                if let Some(k) = key_scalar {
                    if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                        *key = Some(k);
                    }
                    continue;
                }
                match event {
                    Event::MappingStart(..) => stack.push(Frame::Map { key: None, base: path }),
                    Event::SequenceStart(..) => stack.push(Frame::Seq { index: 0, base: path }),
                    _ => {}
                }
            } else if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
                stack.pop();
            }
        }
        PathIndex { entries }
    }

    /// The path of the last node starting at or before `line:col`.
    pub fn path_at(&self, line: u64, col: u64) -> String {
        self.entries
            .iter()
            .take_while(|(l, c, _)| (*l, *c) <= (line, col))
            .last()
            .map(|(_, _, p)| p.clone())
            .unwrap_or_default()
    }
}

impl PathIndex {
    /// The outermost node starting exactly at `line:col` (a mapping rather than its first key).
    pub fn container_at(&self, line: u64, col: u64) -> String {
        self.entries
            .iter()
            .find(|(l, c, _)| (*l, *c) == (line, col))
            .map(|(_, _, p)| p.clone())
            .unwrap_or_else(|| self.path_at(line, col))
    }
}

fn join_key(base: &str, key: &str) -> String {
    if base.is_empty() { key.to_string() } else { format!("{base}.{key}") }
}

/// "did you mean `x`?" for the closest candidate, if any is close enough.
pub fn did_you_mean<'a>(given: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    // Cargo's rule: an edit distance (transpositions count once) of at most a third of the word.
    let limit = (given.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(given, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_of_positions() {
        let text = "cluster:\n  slug: a\nnodes:\n  - name: n1\n    host: h\n  - name: n2\n";
        let idx = PathIndex::build(text);
        assert_eq!(idx.path_at(2, 3), "cluster.slug");
        assert_eq!(idx.path_at(2, 9), "cluster.slug");
        assert_eq!(idx.path_at(5, 5), "nodes[0].host");
        assert_eq!(idx.path_at(6, 11), "nodes[1].name");
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("hots", ["name", "host", "port"]), Some("host"));
        assert_eq!(did_you_mean("zzz", ["name", "host"]), None);
    }
}
