//! Parsing an upload: a `multipart/form-data` body with a `metadata` part
//! (JSON, [`VersionMetadata`]) and one part per module, named by the
//! module's path in the bundle (the part's filename, or its name).

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::Stream;

use super::bundle::{validate_module_name, MAX_BUNDLE_BYTES};
use super::{Bundle, BundleError, MetadataError, Module, ModuleKind, VersionMetadata};

/// Room for the metadata part and multipart framing on top of the modules.
const MAX_UPLOAD_OVERHEAD: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("expected a multipart/form-data upload: {0}")]
    NotMultipart(String),
    #[error("malformed multipart body: {0}")]
    Malformed(String),
    #[error("the upload is larger than the {} MiB limit", MAX_BUNDLE_BYTES / 1024 / 1024)]
    TooLarge,
    #[error("the upload has no `metadata` part (JSON with at least `main_module`)")]
    MissingMetadata,
    #[error("invalid metadata: {0}")]
    MetadataJson(String),
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error("module {0:?} appears twice in the upload")]
    DuplicateModule(String),
    #[error(transparent)]
    Bundle(#[from] BundleError),
}

impl UploadError {
    /// The HTTP status that answers this error.
    pub fn status(&self) -> u16 {
        match self {
            UploadError::TooLarge | UploadError::Bundle(BundleError::TooLarge { .. }) => 413,
            UploadError::NotMultipart(_) => 415,
            _ => 400,
        }
    }
}

/// Reads an upload into its metadata and bundle, checking module names,
/// sizes and metadata, without buffering more than the size limit.
pub async fn parse_upload<S, E>(
    content_type: Option<&str>,
    body: S,
) -> Result<(VersionMetadata, Bundle), UploadError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let content_type =
        content_type.ok_or_else(|| UploadError::NotMultipart("no Content-Type header".into()))?;
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| UploadError::NotMultipart(e.to_string()))?;
    let limits = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(MAX_BUNDLE_BYTES + MAX_UPLOAD_OVERHEAD));
    let mut multipart = multer::Multipart::with_constraints(body, boundary, limits);
    let too_large = |error: multer::Error| match error {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            UploadError::TooLarge
        }
        other => UploadError::Malformed(other.to_string()),
    };

    let mut metadata = None;
    let mut modules = BTreeMap::new();
    while let Some(field) = multipart.next_field().await.map_err(too_large)? {
        let part = field.name().unwrap_or_default().to_string();
        if part == "metadata" {
            let bytes = field.bytes().await.map_err(too_large)?;
            let parsed: VersionMetadata = serde_json::from_slice(&bytes)
                .map_err(|e| UploadError::MetadataJson(e.to_string()))?;
            metadata = Some(parsed);
            continue;
        }
        let name = field.file_name().map(str::to_string).unwrap_or(part);
        validate_module_name(&name)?;
        let kind =
            ModuleKind::from_name(&name).ok_or_else(|| BundleError::UnknownKind(name.clone()))?;
        let content = field.bytes().await.map_err(too_large)?;
        if modules
            .insert(
                name.clone(),
                Module {
                    kind,
                    content: content.to_vec().into(),
                },
            )
            .is_some()
        {
            return Err(UploadError::DuplicateModule(name));
        }
    }
    let metadata = metadata.ok_or(UploadError::MissingMetadata)?;
    metadata.validate()?;
    let bundle = Bundle::new(metadata.main_module.clone(), modules)?;
    Ok((metadata, bundle))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(
        parts: &[(&str, &str, &[u8])],
    ) -> Result<(VersionMetadata, Bundle), UploadError> {
        let mut body = Vec::new();
        for (name, filename, content) in parts {
            body.extend_from_slice(b"--XYZ\r\n");
            let disposition = if filename.is_empty() {
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n")
            } else {
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n\r\n")
            };
            body.extend_from_slice(disposition.as_bytes());
            body.extend_from_slice(content);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XYZ--\r\n");
        let stream =
            futures::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(body)) });
        parse_upload(Some("multipart/form-data; boundary=XYZ"), stream).await
    }

    #[tokio::test]
    async fn a_valid_upload_becomes_metadata_and_bundle() {
        let (metadata, bundle) = parse(&[
            (
                "metadata",
                "",
                br#"{"main_module":"index.js","vars":{"A":"1"}}"#,
            ),
            ("index.js", "index.js", b"export default {}"),
            ("lib", "lib/add.wasm", b"\0asm"),
        ])
        .await
        .unwrap();
        assert_eq!(metadata.vars["A"], "1");
        assert_eq!(bundle.modules["lib/add.wasm"].kind, ModuleKind::Wasm);
    }

    #[tokio::test]
    async fn bad_uploads_name_the_problem() {
        let err = parse(&[("index.js", "index.js", b"x")]).await.unwrap_err();
        assert!(matches!(err, UploadError::MissingMetadata));
        let err = parse(&[
            (
                "metadata",
                "",
                br#"{"main_module":"index.js","limits":{"cpu_ms":0}}"#,
            ),
            ("a", "index.js", b"x"),
        ])
        .await
        .unwrap_err();
        assert!(err.to_string().contains("limits.cpu_ms"), "{err}");
        let err = parse(&[("metadata", "", br#"{"main":"index.js"}"#)])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("main"), "{err}");
        let err = parse(&[
            ("metadata", "", br#"{"main_module":"x.js"}"#),
            ("a", "../x.js", b"x"),
        ])
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains("..") && err.status() == 400,
            "{err}"
        );
        let err = parse(&[
            ("metadata", "", br#"{"main_module":"x.js"}"#),
            ("a", "x.exe", b"x"),
        ])
        .await
        .unwrap_err();
        assert!(err.to_string().contains("unknown type"), "{err}");
    }
}
