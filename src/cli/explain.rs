//! `afterlife explain`: text and JSON rendering of [`crate::exit::explain`].

use crate::cli::output::{Output, Style};
use crate::cli::{ExplainArgs, Failure};
use crate::exit::explain::{Explanation, explain};
use crate::exit_code;
use crate::text::escape;

pub(crate) fn run(args: &ExplainArgs, output: &Output) -> Result<u8, Failure> {
    let explanations = args
        .codes
        .iter()
        .map(|code| explain(code).map(crate::sys::host_readings_first).map_err(Failure::new))
        .collect::<Result<Vec<Explanation>, Failure>>()?;
    if output.json() {
        output.json_list("explanations", &explanations);
        return Ok(exit_code::SUCCESS);
    }
    for (index, explanation) in explanations.iter().enumerate() {
        if index > 0 {
            output.line("");
        }
        output.line(&output.paint(Style::Bold, &escape(&explanation.input)));
        let numbered = explanation.readings.len() > 1;
        for (n, reading) in explanation.readings.iter().enumerate() {
            let marker = if numbered {
                format!("{}. ", n + 1)
            } else {
                String::new()
            };
            output.line(&format!("  {marker}{}", output.paint(Style::Bold, &reading.title)));
            output.line(&format!("  {}{}", " ".repeat(marker.len()), reading.detail));
        }
    }
    Ok(exit_code::SUCCESS)
}
