use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use folio::avatar::isolated;
use folio::config::{SETTINGS_HELP, Settings, one_line};
use folio::db::Db;
use folio::startup::{Application, open_store};
use folio::{gc, telemetry};

/// Folio: profiles and profile pictures, server-rendered.
#[derive(Parser)]
#[command(name = "folio", version, after_help = SETTINGS_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the site (the default).
    Serve,
    /// Create the database if needed, run pending migrations and exit.
    Migrate,
    /// Delete picture files no user points at and leftover temporary files older than an
    /// hour, expired sessions and stale failed-login records. Safe while serving.
    Gc,
    /// Name the members who may moderate (the `/moderation` pages).
    #[command(subcommand)]
    Moderators(ModeratorsCommand),
}

#[derive(Subcommand)]
enum ModeratorsCommand {
    /// Make a member a moderator.
    Add { username: String },
    /// Make a moderator an ordinary member again.
    Remove { username: String },
    /// List the moderators.
    List,
}

/// glibc's allocator for a server of large, short-lived buffers: return blocks over 256 KiB to
/// the system when freed (its default threshold climbs after each such free, and a burst of
/// 24 MP uploads then leaves ~400 MB resident instead of ~110 MB), at most eight arenas (the
/// large blocks never live in one; with two, the threads running database queries queued on
/// their locks: the directory's searches answered 20-28% fewer requests a second), and
/// transparent huge pages for those large blocks, which makes first touching them ~4× cheaper
/// (a progressive 12 MP JPEG: 107 -> 78 ms). Keep in step with .cargo/config.toml, which gives
/// tests and benchmarks the same.
const GLIBC_TUNABLES: &str =
    "glibc.malloc.mmap_threshold=262144:glibc.malloc.arena_max=8:glibc.malloc.hugetlb=1";

/// glibc reads its tunables from the environment once, at start-up, so the server restarts
/// itself (same process id) with Folio's unless the environment already has some.
fn with_allocator_tunables() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os("GLIBC_TUNABLES").is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let error = std::process::Command::new(exe)
            .args(std::env::args_os().skip(1))
            .env("GLIBC_TUNABLES", GLIBC_TUNABLES)
            .exec();
        eprintln!("folio: running without allocator tunables: {error}");
    }
}

fn main() -> ExitCode {
    // A decoder's child process (src/avatar/isolated.rs): no settings, no log, no server.
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(isolated::SUBCOMMAND) {
        return isolated::child_main(&args[2..]);
    }
    let cli = Cli::parse();
    if matches!(cli.command, None | Some(Command::Serve)) {
        with_allocator_tunables();
    }
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("folio: .env: {e}");
        return ExitCode::from(2);
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("folio: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings),
        Command::Migrate => open_db(&settings).map(|_| println!("migrations are up to date")),
        Command::Gc => collect(&settings),
        Command::Moderators(command) => moderators(&settings, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("folio: {message}");
            ExitCode::from(1)
        }
    }
}

fn serve(settings: Settings) -> Result<(), String> {
    // AVIF and HEIC are decoded by this same binary, in a child process.
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    isolated::set_helper(exe);
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)
            .await
            .map_err(|e| e.to_string())?;
        app.run_until_stopped()
            .await
            .map_err(|e| format!("server: {e}"))
    })
}

fn open_db(settings: &Settings) -> Result<Db, String> {
    Db::open(&settings.database)
        .map_err(|e| format!("DATABASE_URL: {}", one_line(&format!("{e:#}"))))
}

fn moderators(settings: &Settings, command: ModeratorsCommand) -> Result<(), String> {
    use folio::db::moderation::{self, Named};
    let db = open_db(settings)?;
    let mut conn = db
        .conn()
        .map_err(|e| format!("DATABASE_URL: {}", one_line(&format!("{e:#}"))))?;
    let (username, on) = match command {
        ModeratorsCommand::List => {
            let all = moderation::moderators(&mut conn).map_err(|e| format!("{e}"))?;
            if all.is_empty() {
                println!("no moderators (add one with: folio moderators add USERNAME)");
            }
            for (username, email) in all {
                println!("{username} <{email}>");
            }
            return Ok(());
        }
        ModeratorsCommand::Add { username } => (username, true),
        ModeratorsCommand::Remove { username } => (username, false),
    };
    let named = moderation::set_moderator(&mut conn, &username, on).map_err(|e| format!("{e}"))?;
    match (named, on) {
        (Named::Done, true) => println!("{username} is now a moderator"),
        (Named::Done, false) => println!("{username} is no longer a moderator"),
        (Named::Already, true) => println!("{username} is already a moderator"),
        (Named::Already, false) => println!("{username} is not a moderator"),
        (Named::NoSuchMember, _) => return Err(format!("no member is named '{username}'")),
        (Named::Suspended, _) => {
            return Err(format!(
                "'{username}' is suspended: lift the suspension before making them a moderator"
            ));
        }
    }
    Ok(())
}

fn collect(settings: &Settings) -> Result<(), String> {
    let db = open_db(settings)?;
    let report = actix_web::rt::System::new().block_on(async {
        let store = open_store(settings).await.map_err(|e| e.to_string())?;
        gc::collect_garbage(&db, &store, Duration::from_secs(3600))
            .await
            .map_err(|e| format!("gc: {e:#}"))
    })?;
    for name in &report.removed {
        println!("removed {name}");
    }
    println!(
        "removed {} picture file(s), {} expired session(s), {} old failed login(s), {} old sign-up(s), \
         {} expired mailed link(s), {} old mail request(s), {} expired access token(s), \
         {} expired passkey challenge(s); made the renditions of {} older picture(s)",
        report.removed.len(),
        report.expired_sessions,
        report.old_login_failures,
        report.old_signups,
        report.expired_links,
        report.old_mail_requests,
        report.expired_access_tokens,
        report.expired_passkey_challenges,
        report.renditions_made
    );
    Ok(())
}
