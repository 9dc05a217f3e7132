//! The console's static files, compiled into the binary: the style sheet, the icon and the
//! script (progressive enhancement only: passkeys, and nothing a page needs to work).

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::super::ApiError;
use super::{PageError, protect};

const FILES: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("assets/console.css"),
    ),
    ("favicon.svg", "image/svg+xml", include_str!("assets/favicon.svg")),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/console.js"),
    ),
];

/// `/favicon.ico`, which browsers ask for on pages that name no icon (the assessment report):
/// the console's icon.
pub(super) async fn favicon() -> Result<Response, PageError> {
    serve(Path("favicon.svg".to_owned())).await
}

pub(super) async fn serve(Path(file): Path<String>) -> Result<Response, PageError> {
    let Some((_, kind, text)) = FILES.iter().find(|(name, _, _)| *name == file) else {
        return Err(ApiError::not_found(format!("no console asset {file:?}")).into());
    };
    let mut response = (StatusCode::OK, *text).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    protect(headers);
    Ok(response)
}
