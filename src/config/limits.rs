//! How large and how deeply nested a config file may be, checked before the YAML parser
//! sees it.
//!
//! The parser's time grows with the square of the nesting of flow collections (`[[[...`,
//! `{a: {a: ...`): 100 KB of them took seconds and 500 KB close to a minute, at startup of
//! every master. Both scans here are one pass over the text, so a file over a limit is
//! refused at once with the limit named. They do not parse YAML: they only need to count
//! nesting as deep as YAML reads it: never less, and at most one level more (a list item
//! that is a plain value counts as a level).

/// The largest file read. Real `.rr.yaml` files are a few kilobytes; 1 MiB is hundreds of
/// times that, and still parses in well under a second at the deepest nesting allowed.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// The deepest nesting of mappings and lists, block and flow together. RoadRunner's
/// deepest sections (`jobs.pipelines.<name>.config...`, `logs.channels.<plugin>...`) are
/// under ten levels; serde_yaml itself stops at 128.
pub const MAX_DEPTH: usize = 64;

/// A file over one of the limits, worded to follow the file's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OverLimit {
    #[error("is larger than the limit of {} MiB for a config file", MAX_FILE_BYTES >> 20)]
    TooLarge,
    #[error(
        "nests mappings and lists deeper than the limit of {MAX_DEPTH} levels (at line \
         {line} column {column})"
    )]
    TooDeep { line: usize, column: usize },
}

/// Refuses a file over either limit.
pub(super) fn check(text: &str) -> Result<(), OverLimit> {
    if text.len() > MAX_FILE_BYTES {
        return Err(OverLimit::TooLarge);
    }
    match deeper_than(text, MAX_DEPTH) {
        Some((line, column)) => Err(OverLimit::TooDeep { line, column }),
        None => Ok(()),
    }
}

/// Where the nesting first goes deeper than `limit` (line and column, from 1), or `None`.
///
/// Block collections are counted by indentation (a stack of the columns of the open ones,
/// a `- ` opening one more at the column after it); flow collections by their brackets,
/// outside quoted scalars, comments and the text of block scalars (`|`, `>`). A bracket in
/// block context counts only where a value starts, since `a[0]` there is plain text.
pub(super) fn deeper_than(text: &str, limit: usize) -> Option<(usize, usize)> {
    let mut scan = Scan::default();
    for (n, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(column) = scan.line(line, limit) {
            return Some((n + 1, column + 1));
        }
    }
    None
}

#[derive(Default)]
struct Scan {
    /// Columns of the open block collections, innermost last.
    block: Vec<usize>,
    flow: usize,
    /// The quote that opened the scalar being read, across lines.
    quote: Option<u8>,
    /// Inside a block scalar: lines indented more than this column are its text.
    block_scalar: Option<usize>,
    /// A value may start here (so a bracket or a quote opens one).
    value_starts: bool,
}

impl Scan {
    fn depth(&self) -> usize {
        self.block.len() + self.flow
    }

    /// Scans one line; returns the column where the nesting went past `limit`.
    fn line(&mut self, line: &str, limit: usize) -> Option<usize> {
        let bytes = line.as_bytes();
        let indent = bytes.iter().take_while(|&&c| c == b' ').count();
        let blank = bytes[indent..].iter().all(|c| c.is_ascii_whitespace());
        if let Some(parent) = self.block_scalar {
            if blank || indent > parent {
                return None;
            }
            self.block_scalar = None;
        }
        let mut i = indent;
        // The column of the node that owns what follows: a key, or a `- ` item.
        let mut owner = indent;
        if self.quote.is_none() && self.flow == 0 {
            if blank || bytes[indent] == b'#' {
                return None;
            }
            if line.starts_with("---") || line.starts_with("...") || line.starts_with('%') {
                // A new document, or a directive.
                self.block.clear();
                return None;
            }
            while self.block.last().is_some_and(|&top| top > indent) {
                self.block.pop();
            }
            if self.block.last() != Some(&indent) {
                self.block.push(indent);
            }
            if self.depth() > limit {
                return Some(indent);
            }
            self.value_starts = true;
        }
        while i < bytes.len() {
            let c = bytes[i];
            if let Some(quote) = self.quote {
                match c {
                    b'\\' if quote == b'"' => i += 1,
                    b'\'' if quote == b'\'' && bytes.get(i + 1) == Some(&b'\'') => i += 1,
                    _ if c == quote => self.quote = None,
                    _ => {}
                }
                i += 1;
                continue;
            }
            let spaced = |at: usize| bytes.get(at).is_none_or(|c| c.is_ascii_whitespace());
            let in_flow = self.flow > 0;
            match c {
                b' ' | b'\t' | b'\r' => {}
                b'#' if i == 0 || bytes[i - 1].is_ascii_whitespace() => return None,
                b'[' | b'{' if in_flow || self.value_starts => {
                    self.flow += 1;
                    if self.depth() > limit {
                        return Some(i);
                    }
                    self.value_starts = true;
                }
                b']' | b'}' if in_flow => {
                    self.flow -= 1;
                    self.value_starts = false;
                }
                b',' if in_flow => self.value_starts = true,
                b'"' | b'\'' if self.value_starts => {
                    self.quote = Some(c);
                    self.value_starts = false;
                }
                b'-' | b'?' if !in_flow && self.value_starts && spaced(i + 1) => {
                    // A block list item (or complex key): what follows is one level down.
                    owner = i;
                    let next = i + 1 + bytes[i + 1..].iter().take_while(|&&c| c == b' ').count();
                    if next < bytes.len() && bytes[next] != b'#' {
                        self.block.push(next);
                        if self.depth() > limit {
                            return Some(next);
                        }
                    }
                }
                b':' if in_flow || spaced(i + 1) => self.value_starts = true,
                b'|' | b'>' if !in_flow && self.value_starts => {
                    self.block_scalar = Some(owner);
                    return None;
                }
                b'!' | b'&' if self.value_starts => {
                    // A tag or an anchor: the value starts after it.
                    while i + 1 < bytes.len() && !bytes[i + 1].is_ascii_whitespace() {
                        i += 1;
                    }
                }
                _ => {
                    if self.value_starts && !in_flow {
                        owner = i;
                    }
                    self.value_starts = false;
                }
            }
            i += 1;
        }
        None
    }
}

/// The nesting the scan counts in `text`.
#[cfg(test)]
pub(super) fn depth(text: &str) -> usize {
    (0..)
        .find(|&limit| deeper_than(text, limit).is_none())
        .expect("some limit holds")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_nesting_counts_indentation_levels() {
        assert_eq!(depth(""), 0);
        assert_eq!(depth("a: 1\nb: 2\n"), 1);
        assert_eq!(depth("a:\n  b:\n    c: 1\nd: 2\n"), 3);
        assert_eq!(depth("a:\n- 1\n- 2\n"), 2, "a list at the key's column");
        assert_eq!(depth("a:\n  - b: 1\n    c: 2\n"), 3);
        // A list item that is a plain value counts as a level too: one more, never less.
        assert_eq!(depth("- - - x\n"), 4);
        assert_eq!(depth("# a:\n#   b:\n#     c:\n"), 0);
    }

    #[test]
    fn flow_nesting_counts_brackets_outside_text() {
        assert_eq!(depth("a: [1, [2, {b: [3]}]]\n"), 5);
        assert_eq!(depth("a: \"[[[[\"\nb: '{{{{'\n"), 1);
        assert_eq!(
            depth("a: ^[a-z]+[0-9]$\n"),
            1,
            "plain text in block context"
        );
        assert_eq!(depth("a: x # [[[[\n"), 1);
        assert_eq!(depth("a: 'it''s [[['\n"), 1);
        assert_eq!(depth("a: \"say \\\"[[\\\"\"\n"), 1);
        assert_eq!(depth("a: [\n  [\n    1\n  ]\n]\n"), 3);
        assert_eq!(depth("a: !!seq [1]\nb: &x {c: 1}\n"), 2);
    }

    #[test]
    fn block_scalars_are_text() {
        let text = "a: |\n  {[[[[\n      deep:\n  \"\nb:\n  c: 1\n";
        assert_eq!(depth(text), 2);
        let text = "- key: >-\n    [[[[\n  other: 1\n";
        assert_eq!(depth(text), 2);
    }

    #[test]
    fn a_deep_file_is_refused_where_it_goes_too_deep() {
        let text = format!("a: {}1{}\n", "[".repeat(70), "]".repeat(70));
        assert_eq!(deeper_than(&text, MAX_DEPTH), Some((1, 67)));
        let mut text = String::new();
        for level in 0..70 {
            text.push_str(&format!("{}k{level}:\n", " ".repeat(level)));
        }
        assert_eq!(deeper_than(&text, MAX_DEPTH), Some((65, 65)));
        let over = check(&text).unwrap_err();
        assert_eq!(
            over,
            OverLimit::TooDeep {
                line: 65,
                column: 65
            }
        );
        assert!(
            over.to_string()
                .contains("limit of 64 levels (at line 65 column 65)")
        );
    }

    #[test]
    fn a_file_over_the_size_limit_is_refused() {
        let text = format!("# {}\n", "x".repeat(MAX_FILE_BYTES));
        assert_eq!(check(&text), Err(OverLimit::TooLarge));
        assert_eq!(
            OverLimit::TooLarge.to_string(),
            "is larger than the limit of 1 MiB for a config file"
        );
        assert_eq!(check(&text[..MAX_FILE_BYTES]), Ok(()));
    }
}
