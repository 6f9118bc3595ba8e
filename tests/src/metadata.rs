//! Images carrying what a phone or an editor leaves in a file, built byte by byte in each format
//! the node accepts: EXIF with a GPS position, an orientation and a description; XMP; comments
//! (JPEG `COM`, PNG `tEXt`/`iTXt`/`eXIf`, GIF comment and application extensions, WebP `EXIF`
//! and `XMP ` chunks). [`leaks`] names whatever of it is still in a file the node serves.

use std::io::Cursor;

use image::{ImageFormat, RgbImage};

/// A street address, put in every metadata block (EXIF description, XMP, comments).
pub const SECRET: &str = "Calle Secreta 42, Oaxaca";
/// The GPS latitude 19° 25' 51.23" as EXIF stores it: three big-endian rationals.
pub const GPS_LATITUDE: [u8; 24] = [
    0, 0, 0, 19, 0, 0, 0, 1, 0, 0, 0, 25, 0, 0, 0, 1, 0, 0, 0x14, 0x03, 0, 0, 0, 100,
];

/// An XMP packet with the same position and address.
fn xmp() -> String {
    format!(
        r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="19,25.853N" exif:GPSLongitude="99,8.2W"><dc:description>{SECRET}</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"#
    )
}

/// A big-endian TIFF block as EXIF carries it: IFD0 with a description, the `orientation`
/// (1 = as stored, 6 = turn 90° clockwise to show) and a GPS IFD with a latitude.
pub fn exif(orientation: u16) -> Vec<u8> {
    fn entry(out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: [u8; 4]) {
        out.extend(tag.to_be_bytes());
        out.extend(kind.to_be_bytes());
        out.extend(count.to_be_bytes());
        out.extend(value);
    }
    const ASCII: u16 = 2;
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    const RATIONAL: u16 = 5;
    // Layout: header 0..8, IFD0 8..50 (3 entries), GPS IFD 50..80 (2 entries), latitude
    // 80..104, description from 104.
    let description = format!("{SECRET}\0");
    let mut out = b"MM\0\x2a".to_vec();
    out.extend(8u32.to_be_bytes());
    out.extend(3u16.to_be_bytes());
    let count = u32::try_from(description.len()).unwrap();
    entry(&mut out, 0x010e, ASCII, count, 104u32.to_be_bytes());
    let [hi, lo] = orientation.to_be_bytes();
    entry(&mut out, 0x0112, SHORT, 1, [hi, lo, 0, 0]);
    entry(&mut out, 0x8825, LONG, 1, 50u32.to_be_bytes());
    out.extend(0u32.to_be_bytes());
    assert_eq!(out.len(), 50);
    out.extend(2u16.to_be_bytes());
    entry(&mut out, 0x0001, ASCII, 2, *b"N\0\0\0");
    entry(&mut out, 0x0002, RATIONAL, 3, 80u32.to_be_bytes());
    out.extend(0u32.to_be_bytes());
    assert_eq!(out.len(), 80);
    out.extend(GPS_LATITUDE);
    out.extend(description.as_bytes());
    out
}

/// `width` × `height` pixels of a gradient, so a turn shows in the served size.
fn pixels(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x * 4 % 256) as u8, (y * 4 % 256) as u8, 90])
    })
}

fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    pixels(width, height).write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A JPEG with an EXIF APP1 segment (GPS, `orientation`), an XMP APP1 segment and a comment.
pub fn jpeg_with_metadata(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let plain = encoded(width, height, ImageFormat::Jpeg);
    let segment = |marker: u8, body: &[u8]| {
        let mut s = vec![0xff, marker];
        s.extend(u16::try_from(body.len() + 2).unwrap().to_be_bytes());
        s.extend(body);
        s
    };
    let mut out = plain[..2].to_vec(); // SOI
    out.extend(segment(
        0xe1,
        &[b"Exif\0\0".as_slice(), &exif(orientation)].concat(),
    ));
    let xmp_body = [
        b"http://ns.adobe.com/xap/1.0/\0".as_slice(),
        xmp().as_bytes(),
    ]
    .concat();
    out.extend(segment(0xe1, &xmp_body));
    out.extend(segment(0xfe, SECRET.as_bytes()));
    out.extend(&plain[2..]);
    out
}

/// A PNG with `eXIf` (GPS, `orientation`), `tEXt` and `iTXt` (XMP) chunks before its pixels.
pub fn png_with_metadata(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let plain = encoded(width, height, ImageFormat::Png);
    let chunk = |kind: &[u8; 4], data: &[u8]| {
        let mut c = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
        c.extend(kind);
        c.extend(data);
        c.extend(crc32(&[kind.as_slice(), data].concat()).to_be_bytes());
        c
    };
    let after_ihdr = 8 + 25;
    let mut out = plain[..after_ihdr].to_vec();
    out.extend(chunk(b"eXIf", &exif(orientation)));
    out.extend(chunk(b"tEXt", format!("Comment\0{SECRET}").as_bytes()));
    let itxt = [b"XML:com.adobe.xmp\0\0\0\0\0".as_slice(), xmp().as_bytes()].concat();
    out.extend(chunk(b"iTXt", &itxt));
    out.extend(&plain[after_ihdr..]);
    out
}

/// A WebP in the extended format: `VP8X`, the pixels, an `EXIF` chunk (GPS, `orientation`)
/// and an `XMP ` chunk, as a phone's camera app writes them.
pub fn webp_with_metadata(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let plain = encoded(width, height, ImageFormat::WebP);
    assert_eq!(&plain[..4], b"RIFF");
    assert_eq!(&plain[8..12], b"WEBP");
    let chunk = |kind: &[u8; 4], data: &[u8]| {
        let mut c = kind.to_vec();
        c.extend(u32::try_from(data.len()).unwrap().to_le_bytes());
        c.extend(data);
        if data.len() % 2 == 1 {
            c.push(0);
        }
        c
    };
    let mut vp8x = vec![0x08 | 0x04, 0, 0, 0]; // EXIF and XMP present
    vp8x.extend(&(width - 1).to_le_bytes()[..3]);
    vp8x.extend(&(height - 1).to_le_bytes()[..3]);
    let mut body = b"WEBP".to_vec();
    body.extend(chunk(b"VP8X", &vp8x));
    body.extend(&plain[12..]); // the VP8L chunk the encoder wrote
    body.extend(chunk(b"EXIF", &exif(orientation)));
    body.extend(chunk(b"XMP ", xmp().as_bytes()));
    let mut out = b"RIFF".to_vec();
    out.extend(u32::try_from(body.len()).unwrap().to_le_bytes());
    out.extend(body);
    out
}

/// A GIF with a comment extension and an XMP application extension before its frame.
pub fn gif_with_metadata(width: u32, height: u32) -> Vec<u8> {
    let plain = encoded(width, height, ImageFormat::Gif);
    let packed = plain[10];
    let color_table = if packed & 0x80 != 0 {
        3 << ((packed & 7) + 1)
    } else {
        0
    };
    let after_header = 13 + color_table;
    let sub_blocks = |data: &[u8]| {
        let mut out = Vec::new();
        for block in data.chunks(255) {
            out.push(u8::try_from(block.len()).unwrap());
            out.extend(block);
        }
        out.push(0);
        out
    };
    let mut out = plain[..after_header].to_vec();
    out.extend([0x21, 0xfe]);
    out.extend(sub_blocks(SECRET.as_bytes()));
    out.extend([0x21, 0xff, 11]);
    out.extend(b"XMP DataXMP");
    out.extend(sub_blocks(xmp().as_bytes()));
    out.extend(&plain[after_header..]);
    out
}

/// What of the metadata above is still in `bytes`: empty for a clean file.
pub fn leaks(bytes: &[u8]) -> Vec<&'static str> {
    let markers: [(&'static str, &[u8]); 10] = [
        ("the address", SECRET.as_bytes()),
        ("the GPS latitude", &GPS_LATITUDE),
        ("an EXIF header", b"Exif\0\0"),
        ("a WebP EXIF chunk", b"EXIF"),
        ("a PNG eXIf chunk", b"eXIf"),
        ("a TIFF header", b"MM\0\x2a"),
        ("XMP", b"xmpmeta"),
        ("an XMP application extension", b"XMP Data"),
        ("a PNG tEXt chunk", b"tEXt"),
        ("a PNG iTXt chunk", b"iTXt"),
    ];
    markers
        .into_iter()
        .filter(|(_, marker)| bytes.windows(marker.len()).any(|w| w == *marker))
        .map(|(name, _)| name)
        .collect()
}

/// CRC-32 (ISO-HDLC), as PNG chunks carry it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_files_decode_and_carry_their_metadata() {
        assert_eq!(crc32(b"IEND"), 0xae42_6082);
        let files = [
            (jpeg_with_metadata(60, 40, 6), ImageFormat::Jpeg),
            (png_with_metadata(60, 40, 6), ImageFormat::Png),
            (webp_with_metadata(60, 40, 6), ImageFormat::WebP),
            (gif_with_metadata(60, 40), ImageFormat::Gif),
        ];
        for (bytes, format) in files {
            let image = image::load_from_memory_with_format(&bytes, format).unwrap();
            assert_eq!((image.width(), image.height()), (60, 40), "{format:?}");
            assert!(leaks(&bytes).contains(&"the address"), "{format:?}");
        }
    }
}
