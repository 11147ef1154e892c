//! Serves a connector's [`StandIn`] over HTTP on loopback, so the connector can be pointed at
//! it exactly as at the real API.

use std::{net::TcpListener, sync::Arc};

use actix_web::{
    App, HttpRequest, HttpResponse, HttpServer, dev::ServerHandle, http::StatusCode, web,
};
use enrichd_sdk::stand_in::{StandIn, StandInRequest};
use percent_encoding::percent_decode_str;

/// A running stand-in; stops when dropped.
pub struct StandInServer {
    url: String,
    handle: ServerHandle,
}

impl StandInServer {
    /// Serve `stand_in` on a free loopback port.
    pub fn start(stand_in: Arc<dyn StandIn>) -> std::io::Result<StandInServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::from(stand_in.clone()))
                .default_service(web::to(answer))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(StandInServer { url, handle })
    }

    /// Where it serves, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> &str {
        &self.url
    }
}

impl Drop for StandInServer {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move { handle.stop(false).await });
        }
    }
}

async fn answer(request: HttpRequest, stand_in: web::Data<dyn StandIn>) -> HttpResponse {
    let query = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let headers = request
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let incoming = StandInRequest {
        method: request.method().to_string(),
        path: percent_decode_str(request.path())
            .decode_utf8_lossy()
            .into_owned(),
        query,
        headers,
    };
    let reply = stand_in.answer(&incoming);
    let mut response = HttpResponse::build(
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    for (name, value) in reply.headers {
        response.insert_header((name, value));
    }
    response.body(reply.body)
}
