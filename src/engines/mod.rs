//! The engines' core models: plain functions of point-in-time inputs and a config, no
//! actors, no clock, randomness only from seeds in the config.
//!
//! - [`scenarios`] — seeded synthetic return paths (historical windows, block and
//!   regime-conditioned bootstraps, stressed tails, crisis replays).

pub mod scenarios;
