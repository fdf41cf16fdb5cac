//! Code frames: the lines around a place in a source file, with a caret
//! under the column, as errors show them.

/// The lines around `line` (1-based) of `source`, with a caret under
/// `column`, as a code frame.
pub fn code_frame(source: &str, line: usize, column: usize) -> String {
    let lines: Vec<&str> = source.lines().collect();
    let first = line.saturating_sub(3);
    let last = (line + 2).min(lines.len());
    let width = last.to_string().len();
    let mut frame = String::new();
    for (index, text) in lines.iter().enumerate().take(last).skip(first) {
        let number = index + 1;
        let marker = if number == line { '>' } else { ' ' };
        frame.push_str(&format!("{marker} {number:>width$} | {text}\n"));
        if number == line {
            let pad = " ".repeat(column.saturating_sub(1));
            frame.push_str(&format!("  {:>width$} | {pad}^\n", ""));
        }
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_the_offending_line() {
        let source = "a\nb\nconst x = 1 +;\nd\ne\nf\n";
        let frame = code_frame(source, 3, 14);
        assert_eq!(
            frame,
            "  1 | a\n  2 | b\n> 3 | const x = 1 +;\n    |              ^\n  4 | d\n  5 | e\n"
        );
    }
}
