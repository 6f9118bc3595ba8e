//! Listing images: checked by decoding within the node's budget, re-encoded from their pixels
//! to drop metadata (EXIF GPS in a phone photo would tell the world where a member lives),
//! stored under the media dir with a thumbnail. `codec` says what each format becomes.
//!
//! Peers' listing images stay on their nodes; we keep only a thumbnail of each, made here from
//! the bytes `federation::media` fetched, under `remote/` in the media dir, and recorded in the
//! catalog entry only if the entry did not change meanwhile.
//!
//! Decoding is bounded twice, by the node's [`DecodeLimits`]: an image larger than the pixel
//! budget is refused from its header, before any pixel is decoded, and only so many images are
//! decoded at once (uploads, avatars and peers' images alike); the others wait their turn.

mod codec;

use std::{path::Path, sync::Arc};

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, sea_query::Expr};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::{
    Context, Error, Instance, Result, entities::catalog_entry, service::catalog::CatalogImage,
    types::Text,
};
use codec::Named;

/// At most this many images per listing (Mastodon shows four attachments).
pub const MAX_IMAGES_PER_LISTING: usize = 4;
/// Longest side of a thumbnail, in pixels.
const THUMB_SIZE: u32 = 480;

/// How much image decoding a node does: a pixel budget per image and a number of decodes at
/// once. Part of the node's [`Instance`]; clones share the permits, so two nodes in one process
/// each have their own and every copy inside a node counts against the same ones.
///
/// Memory, measured (BENCHMARKS.md, "Uploads"): decoding and re-encoding a 40-megapixel JPEG
/// raises the node's peak by about 110 MB (3 bytes a pixel), so the peak is roughly `at_once`
/// times that above its idle size, however many uploads arrive at once.
#[derive(Debug, Clone)]
pub struct DecodeLimits {
    max_megapixels: u32,
    at_once: usize,
    permits: Arc<Semaphore>,
}

impl DecodeLimits {
    /// `[media] max_megapixels` unless configured.
    pub const DEFAULT_MEGAPIXELS: u32 = 40;
    /// `[media] decodes_at_once` unless configured.
    pub const DEFAULT_AT_ONCE: usize = 2;

    /// At most `max_megapixels` million pixels per image, `at_once` images decoded at a time
    /// (both at least 1).
    pub fn new(max_megapixels: u32, at_once: usize) -> Self {
        let at_once = at_once.max(1);
        DecodeLimits {
            max_megapixels: max_megapixels.max(1),
            at_once,
            permits: Arc::new(Semaphore::new(at_once)),
        }
    }

    /// The pixel budget, in millions of pixels.
    pub fn max_megapixels(&self) -> u32 {
        self.max_megapixels
    }

    /// How many images are decoded at once.
    pub fn at_once(&self) -> usize {
        self.at_once
    }

    fn max_pixels(&self) -> u64 {
        u64::from(self.max_megapixels) * 1_000_000
    }

    /// Check `bytes`' header against the budget at once (cheap, no queue), then wait for a
    /// permit and run `work` on the decoded image on a blocking thread. The permit moves into
    /// that thread: a request dropped by its client (the connection aborted) cannot release it
    /// while the decode it started still runs.
    async fn decode_then<T: Send + 'static>(
        &self,
        bytes: Vec<u8>,
        field: String,
        what: String,
        work: impl FnOnce(codec::Decoded) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let max_pixels = self.max_pixels();
        let (bytes, field, what) = tokio::task::spawn_blocking(move || {
            let name = Named {
                field: &field,
                what: &what,
            };
            codec::check_size(&bytes, &name, max_pixels)?;
            Ok::<_, Error>((bytes, field, what))
        })
        .await??;
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|e| Error::Internal(format!("decode permits: {e}")))?;
        tokio::task::spawn_blocking(move || {
            let name = Named {
                field: &field,
                what: &what,
            };
            let decoded = codec::decode(&bytes, &name, max_pixels)?;
            drop(bytes);
            let result = work(decoded);
            drop(permit);
            result
        })
        .await?
    }
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits::new(Self::DEFAULT_MEGAPIXELS, Self::DEFAULT_AT_ONCE)
    }
}

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
    full: codec::Encoded,
    thumb: codec::Encoded,
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

/// Validate, re-encode and write one upload (full image and thumbnail) under the node's
/// media dir, within its size limit and decoding budget.
pub async fn store(instance: &Instance, upload: ImageUpload, index: usize) -> Result<StoredImage> {
    let alt = check_alt(&upload.alt, index)?;
    let max_bytes = instance.max_image_bytes;
    if upload.bytes.len() > max_bytes {
        return Err(Error::PayloadTooLarge(format!(
            "image {index} is {} bytes; the limit is {max_bytes}",
            upload.bytes.len()
        )));
    }
    let processed = instance
        .decoding
        .decode_then(
            upload.bytes,
            format!("images[{index}]"),
            format!("image {index}"),
            |decoded| {
                let full = codec::reencode(&decoded)?;
                // Uploads have always had their thumbnail at full size, even a small photo's.
                let thumb = codec::thumbnail(&decoded.img, THUMB_SIZE, true)?;
                Ok(Processed {
                    full,
                    thumb,
                    width: decoded.img.width(),
                    height: decoded.img.height(),
                })
            },
        )
        .await?;
    let media_dir = &instance.media_dir;
    let id = uuid::Uuid::new_v4().to_string();
    let file_name = format!("{id}.{}", processed.full.ext);
    let thumb_file_name = format!("{id}-thumb.{}", processed.thumb.ext);
    tokio::fs::create_dir_all(media_dir).await?;
    tokio::fs::write(media_dir.join(&file_name), &processed.full.bytes).await?;
    if let Err(e) = tokio::fs::write(media_dir.join(&thumb_file_name), &processed.thumb.bytes).await
    {
        let _ = tokio::fs::remove_file(media_dir.join(&file_name)).await;
        return Err(e.into());
    }
    Ok(StoredImage {
        id,
        file_name,
        thumb_file_name,
        media_type: processed.full.media_type.to_string(),
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
/// same limits as uploads) and write it under the node's media dir as
/// `remote/<sha256 of url>-<random>.jpg|png`. Returns that name, relative to the media dir, for
/// `CatalogImage::thumbnail`.
///
/// The random part makes every write a new file, so a writer whose result was not kept (the
/// entry changed meanwhile) removes its own file and never one another writer stored.
pub async fn store_remote_thumbnail(
    instance: &Instance,
    url: &str,
    bytes: Vec<u8>,
) -> Result<String> {
    let max_bytes = instance.max_image_bytes;
    if bytes.len() > max_bytes {
        return Err(Error::PayloadTooLarge(format!(
            "the image is {} bytes; the limit is {max_bytes}",
            bytes.len()
        )));
    }
    let thumb = instance
        .decoding
        .decode_then(bytes, "image".into(), "the image".into(), |decoded| {
            codec::thumbnail(&decoded.img, THUMB_SIZE, false)
        })
        .await?;
    let digest = Sha256::digest(url.as_bytes());
    let hash: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let random = uuid::Uuid::new_v4().simple().to_string();
    let file_name = format!("{REMOTE_DIR}/{hash}-{}.{}", &random[..12], thumb.ext);
    let media_dir = &instance.media_dir;
    tokio::fs::create_dir_all(media_dir.join(REMOTE_DIR)).await?;
    tokio::fs::write(media_dir.join(&file_name), &thumb.bytes).await?;
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = image::DynamicImage::new_rgb8(w, h);
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    /// A node whose media dir is `dir`, with uploads up to `max_bytes`.
    fn instance(dir: &Path, max_bytes: usize) -> Instance {
        Instance::new("coop.example", "Coop", false, dir.to_path_buf(), max_bytes).unwrap()
    }

    #[tokio::test]
    async fn stores_full_image_and_thumbnail() {
        let dir = tempfile::tempdir().unwrap();
        let upload = ImageUpload {
            bytes: png(1200, 600),
            alt: "A blue mug".into(),
        };
        let stored = store(&instance(dir.path(), 10 << 20), upload, 0)
            .await
            .unwrap();
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
            async move {
                let node = instance(&dir, max);
                store(&node, upload, 0).await.unwrap_err().status()
            }
        };
        // A GIF header claiming a 1×1 screen, then junk. (Junk right after `GIF89a` is read as
        // the screen's size, " b" × "ut" = 25120×29813 pixels, and refused by the budget: 422.)
        assert_eq!(
            status(
                b"GIF89a\x01\x00\x01\x00 but not really".to_vec(),
                "x",
                1 << 20
            )
            .await,
            415
        );
        assert_eq!(
            status(b"GIF89a but not really".to_vec(), "x", 1 << 20).await,
            422
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
        let node = instance(dir.path(), 10 << 20);
        let url = "https://peer.example/media/a.png";
        let big = store_remote_thumbnail(&node, url, png(1200, 600))
            .await
            .unwrap();
        let again = store_remote_thumbnail(&node, url, png(1200, 600))
            .await
            .unwrap();
        assert!(big.starts_with("remote/") && big.ends_with(".jpg"), "{big}");
        assert_ne!(big, again, "every write is a new file");
        let thumb = image::open(dir.path().join(&big)).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (480, 240));
        let small = store_remote_thumbnail(&node, url, png(40, 30))
            .await
            .unwrap();
        let thumb = image::open(dir.path().join(&small)).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (40, 30), "not enlarged");

        let refused = |bytes: Vec<u8>, max: usize| {
            let dir = dir.path().to_path_buf();
            async move {
                store_remote_thumbnail(&instance(&dir, max), url, bytes)
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

    #[tokio::test]
    async fn images_over_the_pixel_budget_are_refused_before_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let mut node = instance(dir.path(), 10 << 20);
        node.decoding = DecodeLimits::new(1, 1);
        let upload = |bytes: Vec<u8>| ImageUpload {
            bytes,
            alt: "A mug".into(),
        };
        let refused = store(&node, upload(png(1001, 1000)), 2).await.unwrap_err();
        assert_eq!(refused.status(), 422);
        assert_eq!(
            refused.to_string(),
            "images[2]: the image is 1001×1000 pixels; the limit is 1 megapixel"
        );
        let url = "https://peer.example/media/a.png";
        let remote = store_remote_thumbnail(&node, url, png(1001, 1000))
            .await
            .unwrap_err();
        assert_eq!(
            remote.to_string(),
            "image: the image is 1001×1000 pixels; the limit is 1 megapixel"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let stored = store(&node, upload(png(1000, 1000)), 0).await.unwrap();
        assert_eq!((stored.width, stored.height), (1000, 1000));
    }
}
