//! `chat-auth-server`: serves the demo (www/, pkg/) and its backend on
//! 127.0.0.1:$PORT (default 8080; 0 picks a free port). Configuration:
//! `CHAT_*` variables (see `config.rs`). Prints the URL as its first line;
//! stops cleanly on Ctrl-C / SIGTERM.

use chat_auth_server::log::Logger;
use chat_auth_server::{system_clock, App, Config};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

fn main() {
    if let Err(e) = run() {
        eprintln!("chat-auth-server: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let config = Config::from_env(|k| std::env::var(k).ok())?;
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p
            .trim()
            .parse()
            .map_err(|_| format!("PORT must be a port number, got {p:?}"))?,
        Err(_) => 8080,
    };
    let host: IpAddr = match std::env::var("HOST") {
        Ok(h) => h
            .parse()
            .map_err(|_| format!("HOST must be an IP address, got {h:?}"))?,
        Err(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    runtime.block_on(serve(config, SocketAddr::new(host, port)))
}

async fn serve(config: Config, addr: SocketAddr) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let url = format!("http://{local}");
    let log = Logger::stdout();
    let db = chat_auth_server::store::redacted(&config.db_path);
    let ttl = config.access_ttl_s;
    let app = App::new(config, &url, log.clone(), system_clock()).await?;
    println!("chat-auth demo: {url}/");
    println!("  messenger channel: {url}/messenger.html · representative desk: {url}/agent.html");
    log.info(
        "started",
        serde_json::json!({ "url": url, "db": db, "access_token_ttl_s": ttl }),
    );
    axum::serve(listener, app.router())
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| format!("server: {e}"))?;
    log.info("stopped", serde_json::json!({}));
    Ok(())
}

async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
