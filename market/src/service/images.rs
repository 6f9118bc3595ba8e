//! Listing images: checked by decoding, re-encoded to drop metadata (EXIF GPS in a phone photo
//! would tell the world where a member lives), stored under the media dir with a thumbnail.
//!
//! Peers' listing images stay on their nodes; we keep only a thumbnail of each, made here from
//! the bytes `federation::media` fetched, under `remote/` in the media dir, and recorded in the
//! catalog entry only if the entry did not change meanwhile.

use std::{io::Cursor, path::Path};

use image::{
    DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, codecs::jpeg::JpegEncoder,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};
use sha2::{Digest, Sha256};

use crate::{
    Context, Error, Result, entities::catalog_entry, service::catalog::CatalogImage, types::Text,
};

/// At most this many images per listing (Mastodon shows four attachments).
pub const MAX_IMAGES_PER_LISTING: usize = 4;
/// Longest side of a thumbnail, in pixels.
const THUMB_SIZE: u32 = 480;
/// Refuse images larger than this on either side (decompression bombs).
const MAX_DIMENSION: u32 = 12_000;

/// An image as uploaded, with its required alt text.
#[derive(Debug, Clone)]
pub struct ImageUpload {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Alt text, 1–1,500 characters (Mastodon's limit for descriptions).
    pub alt: String,
}

/// An image written to the media dir, not yet attached to anything.
#[derive(Debug, Clone)]
pub struct StoredImage {
    /// UUID, also the stem of the file names.
    pub id: String,
    /// File name of the full image under the media dir.
    pub file_name: String,
    /// File name of the thumbnail.
    pub thumb_file_name: String,
    /// `image/jpeg`, `image/png`, `image/webp` or `image/gif`.
    pub media_type: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The checked alt text.
    pub alt: String,
}

struct Processed {
    full: Vec<u8>,
    thumb: Vec<u8>,
    thumb_ext: &'static str,
    ext: &'static str,
    media_type: &'static str,
    width: u32,
    height: u32,
}

/// Check the alt text of image number `index`.
pub fn check_alt(alt: &str, index: usize) -> Result<String> {
    let alt = alt.trim();
    let field = format!("images[{index}].alt");
    if alt.is_empty() {
        return Err(Error::invalid(
            field,
            "alt text is required: describe the photo for people who cannot see it",
        ));
    }
    Ok(Text::lines(&field, alt, 1, 1_500)?.into_inner())
}

/// Validate, re-encode and write one upload (full image and thumbnail) under `media_dir`.
pub async fn store(
    media_dir: &Path,
    upload: ImageUpload,
    index: usize,
    max_bytes: usize,
) -> Result<StoredImage> {
    let alt = check_alt(&upload.alt, index)?;
    if upload.bytes.len() > max_bytes {
        return Err(Error::PayloadTooLarge(format!(
            "image {index} is {} bytes; the limit is {max_bytes}",
            upload.bytes.len()
        )));
    }
    let processed = tokio::task::spawn_blocking(move || process(&upload.bytes, index)).await??;
    let id = uuid::Uuid::new_v4().to_string();
    let file_name = format!("{id}.{}", processed.ext);
    let thumb_file_name = format!("{id}-thumb.{}", processed.thumb_ext);
    tokio::fs::create_dir_all(media_dir).await?;
    tokio::fs::write(media_dir.join(&file_name), &processed.full).await?;
    if let Err(e) = tokio::fs::write(media_dir.join(&thumb_file_name), &processed.thumb).await {
        let _ = tokio::fs::remove_file(media_dir.join(&file_name)).await;
        return Err(e.into());
    }
    Ok(StoredImage {
        id,
        file_name,
        thumb_file_name,
        media_type: processed.media_type.to_string(),
        width: processed.width,
        height: processed.height,
        alt,
    })
}

/// Remove an image's files (after a failed save, or when the image is deleted). Best effort:
/// a file that is already gone is fine.
pub async fn remove_files(media_dir: &Path, file_name: &str, thumb_file_name: &str) {
    for name in [file_name, thumb_file_name] {
        if let Err(e) = tokio::fs::remove_file(media_dir.join(name)).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(file = name, error = %e, "could not remove media file");
        }
    }
}

/// Peers' images get our thumbnails under this directory of the media dir.
pub const REMOTE_DIR: &str = "remote";
/// Failed attempts at a peer's image after which we stop trying to make its thumbnail.
pub const MAX_THUMBNAIL_ATTEMPTS: u8 = 3;

/// Make our thumbnail of a peer's image `url` from its `bytes` (checked by decoding, within the
/// same limits as uploads) and write it under `media_dir` as
/// `remote/<sha256 of url>-<random>.jpg|png`. Returns that name, relative to `media_dir`, for
/// `CatalogImage::thumbnail`.
///
/// The random part makes every write a new file, so a writer whose result was not kept (the
/// entry changed meanwhile) removes its own file and never one another writer stored.
pub async fn store_remote_thumbnail(
    media_dir: &Path,
    url: &str,
    bytes: Vec<u8>,
    max_bytes: usize,
) -> Result<String> {
    if bytes.len() > max_bytes {
        return Err(Error::PayloadTooLarge(format!(
            "the image is {} bytes; the limit is {max_bytes}",
            bytes.len()
        )));
    }
    let (thumb, ext) = tokio::task::spawn_blocking(move || {
        let decoded = decode(&bytes, "the image")?;
        thumbnail(&decoded.img, false)
    })
    .await??;
    let digest = Sha256::digest(url.as_bytes());
    let hash: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let random = uuid::Uuid::new_v4().simple().to_string();
    let file_name = format!("{REMOTE_DIR}/{hash}-{}.{ext}", &random[..12]);
    tokio::fs::create_dir_all(media_dir.join(REMOTE_DIR)).await?;
    tokio::fs::write(media_dir.join(&file_name), &thumb).await?;
    Ok(file_name)
}

/// Remove a thumbnail [`store_remote_thumbnail`] wrote. Best effort, like [`remove_files`]; a
/// name that is not one of ours (outside `remote/`, or with a path in it) is left alone.
pub async fn remove_remote_thumbnail(media_dir: &Path, file_name: &str) {
    let ours = file_name
        .strip_prefix(REMOTE_DIR)
        .and_then(|rest| rest.strip_prefix('/'))
        .is_some_and(|name| {
            !name.is_empty()
                && !name.starts_with('.')
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        });
    if !ours {
        tracing::warn!(file = file_name, "not removing: not a remote thumbnail");
        return;
    }
    if let Err(e) = tokio::fs::remove_file(media_dir.join(file_name)).await
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(file = file_name, error = %e, "could not remove media file");
    }
}

/// Whether an image still waits for our thumbnail: not ours, none made yet, not given up.
pub fn wants_thumbnail(image: &CatalogImage) -> bool {
    image.thumbnail.is_none()
        && image.local_thumbnail.is_none()
        && image.thumbnail_attempts < MAX_THUMBNAIL_ATTEMPTS
}

/// Up to `limit` peers' entries (not withdrawn) with images still waiting for our thumbnail,
/// oldest first, leaving out those from `skip_origins`.
pub async fn entries_pending_thumbnails(
    ctx: &Context,
    limit: u64,
    skip_origins: &[String],
) -> Result<Vec<catalog_entry::Model>> {
    let mut query = catalog_entry::Entity::find()
        .filter(catalog_entry::Column::ThumbsPending.eq(true))
        .filter(catalog_entry::Column::Deleted.eq(false))
        .filter(catalog_entry::Column::ListingId.is_null());
    if !skip_origins.is_empty() {
        query = query.filter(catalog_entry::Column::Origin.is_not_in(skip_origins.iter().cloned()));
    }
    Ok(query
        .order_by_asc(catalog_entry::Column::Id)
        .limit(limit)
        .all(&ctx.db)
        .await?)
}

/// Store an entry's `images` with our thumbnails and attempt counts (and whether any image
/// still waits), but only if its images are still exactly `old` and it is not withdrawn:
/// a peer's update that arrived meanwhile is never overwritten. Returns whether it was stored.
pub async fn set_entry_images(
    ctx: &Context,
    id: i32,
    old: &str,
    images: &[CatalogImage],
) -> Result<bool> {
    let json = serde_json::to_string(images)
        .map_err(|e| Error::Internal(format!("serialising images: {e}")))?;
    let pending = images.iter().any(wants_thumbnail);
    let updated = catalog_entry::Entity::update_many()
        .col_expr(catalog_entry::Column::Images, Expr::value(json))
        .col_expr(catalog_entry::Column::ThumbsPending, Expr::value(pending))
        .filter(catalog_entry::Column::Id.eq(id))
        .filter(catalog_entry::Column::Images.eq(old))
        .filter(catalog_entry::Column::Deleted.eq(false))
        .exec(&ctx.db)
        .await?;
    Ok(updated.rows_affected == 1)
}

fn process(bytes: &[u8], index: usize) -> Result<Processed> {
    let Decoded {
        img,
        format,
        ext,
        media_type,
    } = decode(bytes, &format!("image {index}"))?;
    let (width, height) = (img.width(), img.height());
    let full = match format {
        // Re-encoding drops EXIF and other metadata. GIF (animation) and WebP (the codec here
        // only writes lossless WebP, which would balloon photos) are kept as uploaded.
        ImageFormat::Jpeg => encode_jpeg(&img, 90)?,
        ImageFormat::Png => encode(&img, ImageFormat::Png)?,
        _ => bytes.to_vec(),
    };
    // Uploads have always had their thumbnail at full size, even a small photo's.
    let (thumb, thumb_ext) = thumbnail(&img, true)?;
    Ok(Processed {
        full,
        thumb,
        thumb_ext,
        ext,
        media_type,
        width,
        height,
    })
}

/// An image decoded within our limits, the right way up.
struct Decoded {
    img: DynamicImage,
    format: ImageFormat,
    ext: &'static str,
    media_type: &'static str,
}

/// Decode `bytes` as JPEG, PNG, WebP or GIF (told by their content, never by a name or a
/// header), refusing anything larger than [`MAX_DIMENSION`] on a side. `what` names the image
/// in errors ("image 2").
fn decode(bytes: &[u8], what: &str) -> Result<Decoded> {
    let not_image = || {
        Error::UnsupportedMediaType(format!(
            "{what} is not an image we accept (JPEG, PNG, WebP or GIF)"
        ))
    };
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| not_image())?;
    let format = reader.format().ok_or_else(not_image)?;
    let (ext, media_type) = match format {
        ImageFormat::Jpeg => ("jpg", "image/jpeg"),
        ImageFormat::Png => ("png", "image/png"),
        ImageFormat::WebP => ("webp", "image/webp"),
        ImageFormat::Gif => ("gif", "image/gif"),
        _ => return Err(not_image()),
    };
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|_| not_image())?;
    let orientation = decoder.orientation().ok();
    let mut img = DynamicImage::from_decoder(decoder)
        .map_err(|e| Error::UnsupportedMediaType(format!("{what} could not be decoded: {e}")))?;
    if let Some(orientation) = orientation {
        img.apply_orientation(orientation);
    }
    Ok(Decoded {
        img,
        format,
        ext,
        media_type,
    })
}

/// A thumbnail [`THUMB_SIZE`] on its longest side (or smaller, for an image already that small
/// unless `enlarge`): PNG if it has transparency, JPEG otherwise. Returns the bytes and the file
/// extension.
fn thumbnail(img: &DynamicImage, enlarge: bool) -> Result<(Vec<u8>, &'static str)> {
    let fits = img.width() <= THUMB_SIZE && img.height() <= THUMB_SIZE;
    let small = if fits && !enlarge {
        img.clone()
    } else {
        img.thumbnail(THUMB_SIZE, THUMB_SIZE)
    };
    if small.color().has_alpha() {
        Ok((encode(&small, ImageFormat::Png)?, "png"))
    } else {
        Ok((encode_jpeg(&small, 80)?, "jpg"))
    }
}

fn encode_jpeg(img: &DynamicImage, quality: u8) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let rgb = img.to_rgb8();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&rgb)
        .map_err(|e| Error::Internal(format!("JPEG encoding: {e}")))?;
    Ok(out)
}

fn encode(img: &DynamicImage, format: ImageFormat) -> Result<Vec<u8>> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format)
        .map_err(|e| Error::Internal(format!("image encoding: {e}")))?;
    Ok(out.into_inner())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = DynamicImage::new_rgb8(w, h);
        encode(&img, ImageFormat::Png).unwrap()
    }

    #[tokio::test]
    async fn stores_full_image_and_thumbnail() {
        let dir = tempfile::tempdir().unwrap();
        let upload = ImageUpload {
            bytes: png(1200, 600),
            alt: "A blue mug".into(),
        };
        let stored = store(dir.path(), upload, 0, 10 << 20).await.unwrap();
        assert_eq!(
            (stored.width, stored.height, stored.media_type.as_str()),
            (1200, 600, "image/png")
        );
        let thumb = image::open(dir.path().join(&stored.thumb_file_name)).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (480, 240));
        assert!(dir.path().join(&stored.file_name).exists());
    }

    #[tokio::test]
    async fn refuses_non_images_oversize_and_missing_alt() {
        let dir = tempfile::tempdir().unwrap();
        let status = |bytes: Vec<u8>, alt: &str, max: usize| {
            let upload = ImageUpload {
                bytes,
                alt: alt.into(),
            };
            let dir = dir.path().to_path_buf();
            async move { store(&dir, upload, 0, max).await.unwrap_err().status() }
        };
        assert_eq!(
            status(b"GIF89a but not really".to_vec(), "x", 1 << 20).await,
            415
        );
        assert_eq!(
            status(b"<script>alert(1)</script>".to_vec(), "x", 1 << 20).await,
            415
        );
        assert_eq!(status(png(64, 64), "x", 10).await, 413);
        assert_eq!(status(png(8, 8), "  ", 1 << 20).await, 422);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "nothing half-written"
        );
    }

    #[tokio::test]
    async fn remote_thumbnails_are_bounded_new_files_removed_only_under_remote() {
        let dir = tempfile::tempdir().unwrap();
        let url = "https://peer.example/media/a.png";
        let big = store_remote_thumbnail(dir.path(), url, png(1200, 600), 10 << 20)
            .await
            .unwrap();
        let again = store_remote_thumbnail(dir.path(), url, png(1200, 600), 10 << 20)
            .await
            .unwrap();
        assert!(big.starts_with("remote/") && big.ends_with(".jpg"), "{big}");
        assert_ne!(big, again, "every write is a new file");
        let thumb = image::open(dir.path().join(&big)).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (480, 240));
        let small = store_remote_thumbnail(dir.path(), url, png(40, 30), 10 << 20)
            .await
            .unwrap();
        let thumb = image::open(dir.path().join(&small)).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (40, 30), "not enlarged");

        let refused = |bytes: Vec<u8>, max: usize| {
            let dir = dir.path().to_path_buf();
            async move {
                store_remote_thumbnail(&dir, url, bytes, max)
                    .await
                    .unwrap_err()
                    .status()
            }
        };
        assert_eq!(refused(b"<html></html>".to_vec(), 1 << 20).await, 415);
        assert_eq!(refused(png(64, 64), 10).await, 413);

        std::fs::write(dir.path().join("keep.jpg"), b"x").unwrap();
        remove_remote_thumbnail(dir.path(), "keep.jpg").await;
        remove_remote_thumbnail(dir.path(), "remote/../keep.jpg").await;
        assert!(dir.path().join("keep.jpg").exists());
        remove_remote_thumbnail(dir.path(), &big).await;
        assert!(!dir.path().join(&big).exists());
        remove_remote_thumbnail(dir.path(), &big).await;
    }
}
