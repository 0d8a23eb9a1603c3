//! The files of one picture: its 300×300 JPEG master (the contract's picture, at the address
//! it always had) and the renditions made beside it, so that every page fetches a file about
//! the size it shows: 64 and 128 for lists and the header, 600 for a sharp profile page on a
//! 2× screen (only when the kept square had that many pixels), each also in WebP. The 600 is
//! WebP alone: every browser that shows a picture that large takes WebP, and its JPEG cost
//! each upload as much time as the 300×300 master's whole resize.
//!
//! Every file of a picture is named from the master's UUID, so one name finds them all:
//! `<uuid>.jpg` (the master), `<uuid>.webp`, `<uuid>-64.jpg`, `<uuid>-64.webp`, … This module is
//! the one place that knows the sizes, the names and which sets exist.

use super::store::PictureName;

/// The master's side, which every page falls back to.
pub const MASTER: u32 = super::types::SIZE;

/// Which renditions were made beside a picture, as `users.picture_renditions` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Renditions {
    /// A picture stored before renditions existed: the master alone, until `folio gc` makes
    /// the rest.
    MasterOnly,
    /// 64, 128 and 300, each in JPEG and WebP.
    Standard,
    /// `Standard` and 600, in both.
    Large,
}

/// A file's encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    Jpeg,
    Webp,
}

impl Encoding {
    pub fn extension(self) -> &'static str {
        match self {
            Encoding::Jpeg => "jpg",
            Encoding::Webp => "webp",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Encoding::Jpeg => "image/jpeg",
            Encoding::Webp => "image/webp",
        }
    }
}

/// One file of a picture: a side and an encoding. Only the sizes below exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Variant {
    side: u32,
    encoding: Encoding,
}

/// The smaller sides, made from the upright 300×300 square.
const SMALL: [u32; 2] = [64, 128];
/// The larger side, made from the kept square itself when it has that many pixels.
pub const LARGE: u32 = 600;

impl Variant {
    pub const MASTER: Variant = Variant {
        side: MASTER,
        encoding: Encoding::Jpeg,
    };

    /// The 600×600 JPEG, which releases before the 600 became WebP alone made.
    pub const RETIRED: Variant = Variant {
        side: LARGE,
        encoding: Encoding::Jpeg,
    };

    pub fn side(self) -> u32 {
        self.side
    }

    pub fn encoding(self) -> Encoding {
        self.encoding
    }

    /// One of the sides `Renditions::sides` lists; any other side is the master's.
    pub fn of(side: u32, encoding: Encoding) -> Self {
        Self::new(side, encoding).unwrap_or(Self {
            side: MASTER,
            encoding,
        })
    }

    fn new(side: u32, encoding: Encoding) -> Option<Self> {
        (SMALL.contains(&side) || side == MASTER || side == LARGE)
            .then_some(Self { side, encoding })
    }

    /// Every variant any picture can have, the master last (deleting in this order leaves the
    /// master, which names the rest, until the end). Includes [`Variant::RETIRED`], so a file
    /// an earlier release made is still recognised and deleted with its picture.
    pub fn all() -> impl Iterator<Item = Variant> {
        Renditions::Large
            .variants()
            .chain([Variant::RETIRED, Variant::MASTER])
    }

    /// Whether pictures are stored in this variant now (`RETIRED` is not).
    fn is_made(self) -> bool {
        self != Variant::MASTER && self != Variant::RETIRED
    }

    /// The file of `side` a program can decode most simply: its JPEG, or its WebP where only
    /// that is stored.
    pub fn stored(side: u32) -> Self {
        let jpeg = Self::of(side, Encoding::Jpeg);
        if jpeg == Variant::RETIRED {
            Self::of(side, Encoding::Webp)
        } else {
            jpeg
        }
    }
}

impl Renditions {
    /// What `users.picture_renditions` holds: the largest side made beside the master (0: none).
    pub fn from_db(value: i32) -> Self {
        match value {
            600 => Renditions::Large,
            300 => Renditions::Standard,
            _ => Renditions::MasterOnly,
        }
    }

    pub fn to_db(self) -> i32 {
        match self {
            Renditions::MasterOnly => 0,
            Renditions::Standard => 300,
            Renditions::Large => 600,
        }
    }

    /// The sides a page can offer, smallest first.
    pub fn sides(self) -> &'static [u32] {
        match self {
            Renditions::MasterOnly => &[MASTER],
            Renditions::Standard => &[64, 128, MASTER],
            Renditions::Large => &[64, 128, MASTER, LARGE],
        }
    }

    /// The files made beside the master (not the master itself).
    pub fn variants(self) -> impl Iterator<Item = Variant> {
        let sides = match self {
            Renditions::MasterOnly => &[][..],
            other => other.sides(),
        };
        sides.iter().flat_map(|&side| {
            [Encoding::Jpeg, Encoding::Webp]
                .into_iter()
                .map(move |encoding| Variant { side, encoding })
                .filter(|v| v.is_made())
        })
    }

    /// The sides a page can offer in `encoding`, smallest first.
    pub fn sides_in(self, encoding: Encoding) -> impl Iterator<Item = u32> {
        self.sides()
            .iter()
            .copied()
            .filter(move |&side| Variant { side, encoding } != Variant::RETIRED)
    }
}

/// One stored file: which picture, which variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PictureFile {
    pub picture: PictureName,
    pub variant: Variant,
}

impl PictureFile {
    pub fn new(picture: PictureName, variant: Variant) -> Self {
        Self { picture, variant }
    }

    /// Accepts exactly the names `file_name` writes, and nothing else.
    pub fn parse(file_name: &str) -> Option<Self> {
        let (stem, extension) = file_name.rsplit_once('.')?;
        let encoding = match extension {
            "jpg" => Encoding::Jpeg,
            "webp" => Encoding::Webp,
            _ => return None,
        };
        // A UUID is 36 characters; a side follows it after a hyphen.
        let (uuid, side) = match stem.split_at_checked(36)? {
            (uuid, "") => (uuid, MASTER),
            (uuid, rest) => {
                let digits = rest.strip_prefix('-')?;
                if digits.starts_with('0') || digits == MASTER.to_string() {
                    return None;
                }
                (uuid, digits.parse().ok()?)
            }
        };
        let picture = PictureName::parse(&format!("{uuid}.jpg"))?;
        Some(Self {
            picture,
            variant: Variant::new(side, encoding)?,
        })
    }

    pub fn file_name(&self) -> String {
        let stem = self.picture.stem();
        let extension = self.variant.encoding.extension();
        if self.variant.side == MASTER {
            format!("{stem}.{extension}")
        } else {
            format!("{stem}-{}.{extension}", self.variant.side)
        }
    }
}

impl std::fmt::Display for PictureFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.file_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_back_and_nothing_else_does() {
        let picture = PictureName::generate();
        let names: Vec<String> = Variant::all()
            .map(|v| PictureFile::new(picture, v).file_name())
            .collect();
        assert_eq!(names.len(), 8, "7 made now, and the retired 600×600 JPEG");
        assert_eq!(
            names.last(),
            Some(&picture.file_name()),
            "the master is last"
        );
        for name in &names {
            let parsed = PictureFile::parse(name).expect(name);
            assert_eq!(parsed.picture, picture);
            assert_eq!(&parsed.file_name(), name);
        }
        let stem = picture.stem();
        for bad in [
            format!("{stem}-300.jpg"),
            format!("{stem}-064.jpg"),
            format!("{stem}-65.jpg"),
            format!("{stem}-64.png"),
            format!("{stem}-64.jpg.webp"),
            format!("{stem}-.jpg"),
            format!("{stem}64.jpg"),
            format!("{}-64.jpg", stem.to_uppercase()),
            format!("../{stem}-64.jpg"),
            format!("{stem}-600.jpeg"),
        ] {
            assert_eq!(PictureFile::parse(&bad), None, "{bad}");
        }
    }

    #[test]
    fn each_set_names_its_files() {
        let sides = |r: Renditions| -> Vec<(u32, &str)> {
            r.variants()
                .map(|v| (v.side(), v.encoding().extension()))
                .collect()
        };
        assert!(sides(Renditions::MasterOnly).is_empty());
        assert_eq!(
            sides(Renditions::Standard),
            vec![
                (64, "jpg"),
                (64, "webp"),
                (128, "jpg"),
                (128, "webp"),
                (300, "webp")
            ]
        );
        assert_eq!(
            sides(Renditions::Large),
            [&sides(Renditions::Standard)[..], &[(600, "webp")]].concat()
        );
        assert_eq!(
            Renditions::Large
                .sides_in(Encoding::Jpeg)
                .collect::<Vec<_>>(),
            [64, 128, 300]
        );
        assert_eq!(
            Renditions::Large
                .sides_in(Encoding::Webp)
                .collect::<Vec<_>>(),
            [64, 128, 300, 600]
        );
        assert_eq!(Variant::stored(600).encoding(), Encoding::Webp);
        assert_eq!(Variant::stored(128).encoding(), Encoding::Jpeg);
        for r in [
            Renditions::MasterOnly,
            Renditions::Standard,
            Renditions::Large,
        ] {
            assert_eq!(Renditions::from_db(r.to_db()), r);
        }
        assert_eq!(Renditions::from_db(17), Renditions::MasterOnly);
    }
}
