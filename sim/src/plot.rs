//! The picture of `wva simulate --plot FILE`: one column per run (policy), five panels over
//! time: the load, the replicas per variant (ready and WVA's desired), the KV-cache usage,
//! the waiting requests and the time to first token. Drawn with `plotters`' SVG backend;
//! `.html` wraps the same SVG in a page.

use crate::run::{Report, TimelineRow};
use crate::scenario::Scenario;
use plotters::coord::Shift;
use plotters::prelude::*;

/// One column of the picture.
pub struct PlotRun<'a> {
    /// The column's title (the policy).
    pub title: String,
    /// What ran.
    pub scenario: &'a Scenario,
    /// What came out.
    pub report: &'a Report,
}

/// Width of one column, pixels.
const COLUMN_WIDTH: u32 = 520;
/// Height of one panel, pixels.
const PANEL_HEIGHT: u32 = 190;
/// Height of a column's title, pixels.
const TITLE_HEIGHT: u32 = 76;

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// One panel: its title, the y axis label, its lines, a fixed top of the y axis (else the
/// largest value of all runs), where its legend goes.
struct Panel {
    title: &'static str,
    unit: &'static str,
    lines: Vec<Line>,
    top: Option<f64>,
    legend: SeriesLabelPosition,
}

struct Line {
    label: String,
    color: RGBColor,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

fn minutes(row: &TimelineRow) -> f64 {
    row.time as f64 / 60.0
}

fn series(rows: &[TimelineRow], f: impl Fn(&TimelineRow) -> Option<f64>) -> Vec<(f64, f64)> {
    rows.iter()
        .filter_map(|r| f(r).map(|v| (minutes(r), v)))
        .collect()
}

fn panels(run: &PlotRun) -> Vec<Panel> {
    let rows = &run.report.timeline;
    let line = |label: &str, color: RGBColor, dashed: bool, points: Vec<(f64, f64)>| Line {
        label: label.to_string(),
        color,
        dashed,
        points,
    };
    let mut replicas = Vec::new();
    for (i, v) in run.scenario.variants.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        replicas.push(line(
            &format!("{} ready", v.name),
            color,
            false,
            series(rows, |r| r.ready.get(i).map(|n| f64::from(*n))),
        ));
        replicas.push(line(
            &format!("{} desired (WVA)", v.name),
            color,
            true,
            series(rows, |r| r.desired.get(i).map(|n| f64::from(*n))),
        ));
    }
    let s = run.scenario;
    let threshold = 100.0
        * s.engine_config()
            .thresholds(&s.namespace, &s.model_id)
            .kv_cache_threshold;
    let end = s.duration_seconds as f64 / 60.0;
    let panel = |title, unit, lines| Panel {
        title,
        unit,
        lines,
        top: None,
        legend: SeriesLabelPosition::UpperLeft,
    };
    vec![
        panel(
            "load",
            "requests/s",
            vec![line(
                "arriving",
                COLORS[0],
                false,
                series(rows, |r| Some(r.load_rps)),
            )],
        ),
        panel("replicas per variant", "replicas", replicas),
        Panel {
            top: Some(100.0),
            legend: SeriesLabelPosition::LowerRight,
            ..panel(
                "KV-cache usage (average of ready replicas)",
                "%",
                vec![
                    line(
                        "KV cache",
                        COLORS[2],
                        false,
                        series(rows, |r| Some(r.kv_percent)),
                    ),
                    line(
                        "kvCacheThreshold",
                        RGBColor(120, 120, 120),
                        true,
                        vec![(0.0, threshold), (end, threshold)],
                    ),
                ],
            )
        },
        panel(
            "waiting requests (gateway + replica queues)",
            "requests",
            vec![line(
                "queue",
                COLORS[3],
                false,
                series(rows, |r| Some(r.queue as f64)),
            )],
        ),
        panel(
            "time to first token, p95 per 30 s",
            "seconds",
            vec![line(
                "TTFT p95",
                COLORS[1],
                false,
                series(rows, |r| r.ttft_p95_seconds),
            )],
        ),
    ]
}

/// The top of the y axis of panel `p`, shared by all runs: the largest value plus room for a
/// legend of several lines above the data.
fn top(all: &[Vec<Panel>], p: usize) -> f64 {
    if let Some(top) = all.first().and_then(|panels| panels[p].top) {
        return top;
    }
    let max = all
        .iter()
        .flat_map(|panels| &panels[p].lines)
        .flat_map(|l| &l.points)
        .map(|(_, y)| *y)
        .fold(0.0f64, f64::max);
    let lines = all.first().map_or(1, |panels| panels[p].lines.len());
    let headroom = if lines > 1 {
        1.2 + 0.3 * lines as f64
    } else {
        1.1
    };
    if max > 0.0 { max * headroom } else { 1.0 }
}

fn err(e: impl std::fmt::Display) -> String {
    format!("cannot draw the plot: {e}")
}

fn draw_panel(
    area: &DrawingArea<SVGBackend, Shift>,
    panel: &Panel,
    x_max: f64,
    y_max: f64,
) -> Result<(), String> {
    let mut chart = ChartBuilder::on(area)
        .caption(panel.title, ("sans-serif", 17))
        .margin(6)
        .x_label_area_size(34)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("time (minutes)")
        .y_desc(panel.unit)
        .x_labels(8)
        .y_labels(5)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .y_label_formatter(&|y| {
            if y_max < 5.0 {
                format!("{y:.1}")
            } else {
                format!("{y:.0}")
            }
        })
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    for l in &panel.lines {
        let style = l.color.stroke_width(2);
        let color = l.color;
        if l.dashed {
            chart
                .draw_series(DashedLineSeries::new(l.points.iter().copied(), 6, 4, style))
                .map_err(err)?
                .label(&l.label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 6, y)], color.stroke_width(2))
                });
        } else {
            chart
                .draw_series(LineSeries::new(l.points.iter().copied(), style))
                .map_err(err)?
                .label(&l.label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
                });
        }
    }
    if panel.lines.len() < 2 {
        return Ok(());
    }
    chart
        .configure_series_labels()
        .position(panel.legend.clone())
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// Draws `runs` side by side as an SVG document.
pub fn svg(runs: &[PlotRun]) -> Result<String, String> {
    let all: Vec<Vec<Panel>> = runs.iter().map(panels).collect();
    let rows = all.first().map_or(0, Vec::len);
    let x_max = runs
        .iter()
        .map(|r| r.scenario.duration_seconds as f64 / 60.0)
        .fold(1.0, f64::max);
    let tops: Vec<f64> = (0..rows).map(|p| top(&all, p)).collect();
    let columns = runs.len().max(1) as u32;
    let size = (
        COLUMN_WIDTH * columns,
        TITLE_HEIGHT + PANEL_HEIGHT * rows as u32,
    );
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let columns_areas = root.split_evenly((1, columns as usize));
        for ((run, panels), column) in runs.iter().zip(&all).zip(&columns_areas) {
            let (head, body) = column.split_vertically(TITLE_HEIGHT);
            let s = &run.report.summary;
            head.draw_text(
                &run.title,
                &("sans-serif", 20)
                    .into_font()
                    .style(FontStyle::Bold)
                    .color(&BLACK),
                (12, 8),
            )
            .map_err(err)?;
            let figures = [
                format!(
                    "time saturated {:02}:{:02} (min:s), {:.1} replica-minutes, cost {:.2}",
                    s.seconds_saturated / 60,
                    s.seconds_saturated % 60,
                    s.replica_minutes,
                    s.cost
                ),
                format!(
                    "TTFT p95 {:.1} s, {} scale events",
                    s.ttft_p95_seconds, s.scale_events
                ),
            ];
            for (line, y) in figures.iter().zip([34, 54]) {
                head.draw_text(line, &("sans-serif", 15).into_font().color(&BLACK), (12, y))
                    .map_err(err)?;
            }
            for ((p, area), y_max) in panels.iter().zip(body.split_evenly((rows, 1))).zip(&tops) {
                draw_panel(&area, p, x_max, *y_max)?;
            }
        }
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// The same picture in an HTML page.
pub fn html(runs: &[PlotRun]) -> Result<String, String> {
    let title = runs
        .iter()
        .map(|r| r.title.as_str())
        .collect::<Vec<_>>()
        .join(" vs ");
    Ok(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>wva simulate: {}</title></head>\n<body>\n{}\n</body></html>\n",
        title.replace('&', "&amp;").replace('<', "&lt;"),
        svg(runs)?
    ))
}
