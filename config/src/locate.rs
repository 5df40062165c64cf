//! From a byte span of a TOML document to its line, column and dotted key.

use std::ops::Range;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::error::Location;

/// The line, column and (when the document parses) innermost key at `span` of `text`.
pub fn locate(text: &str, span: Option<Range<usize>>) -> Location {
    let start = span.as_ref().map_or(0, |s| s.start).min(text.len());
    let before = text.get(..start).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit_once('\n')
        .map_or(before, |(_, last)| last)
        .chars()
        .count()
        + 1;
    let key = span.and_then(|span| {
        let document = DeTable::parse(text).ok()?;
        let mut path = Vec::new();
        key_at(document.get_ref(), &span, &mut path);
        (!path.is_empty()).then(|| path.join("."))
    });
    Location { line, column, key }
}

/// Appends to `path` the keys leading to `span` in `table`, innermost last.
fn key_at(table: &DeTable<'_>, span: &Range<usize>, path: &mut Vec<String>) {
    for (key, value) in table {
        let in_key = contains(&key.span(), span);
        if in_key || contains(&value.span(), span) || encloses(value, span) {
            path.push(key.get_ref().to_string());
            if !in_key {
                value_at(value, span, path);
            }
            return;
        }
    }
}

fn value_at(value: &Spanned<DeValue<'_>>, span: &Range<usize>, path: &mut Vec<String>) {
    match value.get_ref() {
        DeValue::Table(table) => key_at(table, span, path),
        DeValue::Array(array) => {
            for (index, element) in array.iter().enumerate() {
                if contains(&element.span(), span) || encloses(element, span) {
                    if let Some(last) = path.last_mut() {
                        last.push_str(&format!("[{index}]"));
                    }
                    value_at(element, span, path);
                    return;
                }
            }
        }
        _ => {}
    }
}

/// Whether a table (whose own span may be only its header) holds something at `span`.
fn encloses(value: &Spanned<DeValue<'_>>, span: &Range<usize>) -> bool {
    match value.get_ref() {
        DeValue::Table(table) => table.iter().any(|(k, v)| {
            contains(&k.span(), span) || contains(&v.span(), span) || encloses(v, span)
        }),
        DeValue::Array(array) => array
            .iter()
            .any(|e| contains(&e.span(), span) || encloses(e, span)),
        _ => false,
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end.max(outer.start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_columns_and_keys() {
        let text = "[plan]\nstrategy = \"fast\"\n\n[[capture.rules]]\nfunctions = [\"a\"]\n\n[[capture.rules]]\nmax_bytes = -1\n";
        let at = |needle: &str| {
            let start = text.find(needle).unwrap();
            locate(text, Some(start..start + needle.len()))
        };
        let strategy = at("\"fast\"");
        assert_eq!((strategy.line, strategy.column), (2, 12));
        assert_eq!(strategy.key.as_deref(), Some("plan.strategy"));
        let caps = at("-1");
        assert_eq!(caps.line, 8);
        assert_eq!(caps.key.as_deref(), Some("capture.rules[1].max_bytes"));
        let header = at("plan");
        assert_eq!(header.key.as_deref(), Some("plan"));
        let nowhere = locate(text, None);
        assert_eq!((nowhere.line, nowhere.column, nowhere.key), (1, 1, None));
    }
}
