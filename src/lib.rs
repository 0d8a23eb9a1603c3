//! Folio: profiles and profile pictures, server-rendered.

pub mod api;
pub mod auth;
pub mod avatar;
pub mod compress;
pub mod config;
pub mod db;
pub mod directory;
pub mod domain;
pub mod error;
pub mod error_pages;
pub mod gc;
pub mod head;
pub mod libravatar;
pub mod links;
pub mod mail;
pub mod metrics;
pub mod multipart;
pub mod ops;
pub mod proxy;
pub mod routes;
pub mod startup;
pub mod static_files;
pub mod telemetry;
pub mod templates;
