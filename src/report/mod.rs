//! Views for people: the plan as a table with memory bars, and the calibration's results as
//! Markdown. A view only: every number printed is a field of the value it shows.

#[cfg(feature = "calibrate")]
pub mod calibration;
mod plan;
