//! Folio: profiles and profile pictures, server-rendered.

pub mod auth;
pub mod avatar;
pub mod config;
pub mod db;
pub mod directory;
pub mod domain;
pub mod error;
pub mod gc;
pub mod mail;
pub mod metrics;
pub mod proxy;
pub mod routes;
pub mod startup;
pub mod static_files;
pub mod telemetry;
pub mod templates;
