//! Stored pictures: fresh UUID names, complete-then-rename writes, and a guard that removes a
//! new file unless the database commit that points at it succeeded.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use uuid::Uuid;

/// `<uuid4>.jpg`: the only names ever written to, served from, or deleted in `profile_pics/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PictureName(Uuid);

/// Written files start with this until they are complete.
pub const TEMP_PREFIX: &str = ".tmp-";

impl PictureName {
    pub fn generate() -> Self {
        Self(Uuid::new_v4())
    }

    /// Accepts exactly the lowercase hyphenated form of a version-4 UUID followed by `.jpg`.
    pub fn parse(file_name: &str) -> Option<Self> {
        let stem = file_name.strip_suffix(".jpg")?;
        let uuid = Uuid::try_parse(stem).ok()?;
        (uuid.get_version_num() == 4 && uuid.hyphenated().to_string() == stem).then_some(Self(uuid))
    }

    pub fn file_name(&self) -> String {
        format!("{}.jpg", self.0.hyphenated())
    }

    pub fn url(&self) -> String {
        format!("/media/profile_pics/{}", self.file_name())
    }
}

impl std::fmt::Display for PictureName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.file_name())
    }
}

/// The `profile_pics/` folder.
#[derive(Debug, Clone)]
pub struct PictureStore {
    dir: PathBuf,
}

impl PictureStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, name: &PictureName) -> PathBuf {
        self.dir.join(name.file_name())
    }

    /// Creates the folder and proves it is writable, so a bad setting fails at start.
    pub fn prepare(&self) -> io::Result<()> {
        fs::create_dir_all(&self.dir)?;
        let probe = self
            .dir
            .join(format!("{TEMP_PREFIX}probe-{}", Uuid::new_v4()));
        File::create(&probe)?;
        fs::remove_file(&probe)
    }

    /// Writes `jpeg` under a temporary name, flushes it to disk and renames it to a fresh
    /// `<uuid>.jpg`, so the final name never holds a partial file. Blocking.
    pub fn write_new(&self, jpeg: &[u8]) -> io::Result<PendingPicture> {
        let name = PictureName::generate();
        let temp = self.dir.join(format!("{TEMP_PREFIX}{}", Uuid::new_v4()));
        let result = (|| {
            let mut file = File::create(&temp)?;
            file.write_all(jpeg)?;
            file.sync_all()?;
            fs::rename(&temp, self.path(&name))
        })();
        if let Err(e) = result {
            let _ = fs::remove_file(&temp);
            return Err(e);
        }
        Ok(PendingPicture {
            path: self.path(&name),
            name,
            kept: false,
        })
    }

    /// Deletes a stored picture; a name that is not ours is never touched. Blocking.
    pub fn remove(&self, file_name: &str) -> io::Result<()> {
        let Some(name) = PictureName::parse(file_name) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not a picture name: {file_name:?}"),
            ));
        };
        match fs::remove_file(self.path(&name)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// A new picture file that no row points at yet. Dropping it deletes the file; `keep` once the
/// commit that references it has succeeded.
#[derive(Debug)]
pub struct PendingPicture {
    path: PathBuf,
    name: PictureName,
    kept: bool,
}

impl PendingPicture {
    pub fn name(&self) -> PictureName {
        self.name
    }

    pub fn keep(mut self) {
        self.kept = true;
    }
}

impl Drop for PendingPicture {
    fn drop(&mut self) {
        if !self.kept
            && let Err(e) = fs::remove_file(&self.path)
        {
            tracing::error!(path = %self.path.display(), error = %e, "could not remove an uncommitted picture");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn names_are_strict() {
        let name = PictureName::generate();
        assert_eq!(PictureName::parse(&name.file_name()), Some(name));
        for bad in [
            "../x.jpg",
            "x.jpg",
            "4f1c2f1e-3b7a-4c5e-9d3f-2a1b3c4d5e6f.JPG",
            "4F1C2F1E-3B7A-4C5E-9D3F-2A1B3C4D5E6F.jpg",
            "4f1c2f1e3b7a4c5e9d3f2a1b3c4d5e6f.jpg",
            "4f1c2f1e-3b7a-1c5e-9d3f-2a1b3c4d5e6f.jpg",
            ".tmp-4f1c2f1e-3b7a-4c5e-9d3f-2a1b3c4d5e6f",
        ] {
            assert_eq!(PictureName::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_pending_picture_is_removed_unless_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = PictureStore::new(dir.path());
        store.prepare().expect("prepare");

        let dropped = store.write_new(b"first").expect("write");
        let dropped_name = dropped.name();
        assert_eq!(files(dir.path()), vec![dropped_name.file_name()]);
        drop(dropped);
        assert!(files(dir.path()).is_empty());

        let kept = store.write_new(b"second").expect("write");
        let name = kept.name();
        kept.keep();
        assert_eq!(files(dir.path()), vec![name.file_name()]);
        assert_eq!(fs::read(store.path(&name)).expect("read"), b"second");

        store.remove(&name.file_name()).expect("remove");
        store
            .remove(&name.file_name())
            .expect("removing twice is fine");
        assert!(store.remove("../../etc/passwd").is_err());
        assert!(files(dir.path()).is_empty());
    }
}
