//! The text of one `why` finding, the same on Linux and on Windows: its
//! number and title, what it means, the evidence, the next step.

use crate::cli::output::{Output, Style};
use crate::finding::Evidence;
use crate::text::escape_native as escape;

/// What one finding says, borrowed from either system's report.
pub(crate) struct FindingText<'a> {
    pub title: &'a str,
    pub explanation: &'a str,
    pub evidence: &'a [Evidence],
    pub next_step: &'a str,
}

/// Writes finding `number` (from 1), its title in `style`, after a blank
/// line.
pub(crate) fn render_finding(output: &Output, number: usize, style: Style, finding: FindingText<'_>) {
    output.line("");
    output.line(&format!("{number}. {}", output.paint(style, &escape(finding.title))));
    output.line(&format!("   {}", escape(finding.explanation)));
    for evidence in finding.evidence {
        output.line(&format!(
            "   {} {}: {}",
            output.paint(Style::Dim, "evidence"),
            escape(&evidence.source),
            escape(&evidence.value)
        ));
    }
    output.line(&format!(
        "   {} {}",
        output.paint(Style::Bold, "next:"),
        escape(finding.next_step)
    ));
}
