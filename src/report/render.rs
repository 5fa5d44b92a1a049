//! The monthly report as a PDF: `template.typ` (checked in) compiled by typst as a library with
//! the report's JSON and its charts as inputs, fonts embedded in garnet. No clock and no system
//! font enters: the same report gives the same bytes.

use anyhow::{Result, anyhow};
use typst::foundations::{Dict, IntoValue};
use typst_as_lib::TypstEngine;

use super::chart::{self, Bar, Style};
use super::monthly::Report;

const TEMPLATE: &str = include_str!("template.typ");
/// The family the template and the charts set their text in.
pub const FONT: &str = "Libertinus Serif";

/// The per-day volume chart: tokens per day, a day without telemetry drawn as a gap.
pub fn volume_chart(r: &Report) -> String {
    let bars: Vec<Bar> = r
        .volume
        .days
        .iter()
        .map(|d| Bar {
            label: d.date.get(8..10).unwrap_or(&d.date).trim_start_matches('0').to_string(),
            value: (d.source != "missing").then_some(d.tokens as f64),
        })
        .collect();
    let every = if bars.len() > 16 { 2 } else { 1 };
    chart::bars(&bars, &Style { width: 480.0, height: 150.0, font: FONT, unit: "tokens per day (UTC)" }, every)
}

/// Renders the report to PDF bytes.
pub fn pdf(r: &Report) -> Result<Vec<u8>> {
    let fonts: Vec<&'static [u8]> = typst_assets::fonts().collect();
    let engine = TypstEngine::builder().main_file(TEMPLATE).fonts(fonts).build();
    let mut inputs = Dict::new();
    inputs.insert("data".into(), serde_json::to_string(r)?.into_value());
    inputs.insert("chart-volume".into(), volume_chart(r).into_value());
    let doc = engine.compile_with_input(inputs).output.map_err(|e| anyhow!("the report template failed: {e}"))?;
    // No timestamp in the document: the same report, the same bytes.
    let options = typst_pdf::PdfOptions::default();
    typst_pdf::pdf(&doc, &options).map_err(|e| anyhow!("writing the PDF failed: {e:?}"))
}
