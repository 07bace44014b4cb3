//! Dropping root (`[server] user` / `group`): after every socket is bound and every key and
//! secret is read, the process takes the user's supplementary groups, its group and its user,
//! for good (the real, effective and saved IDs all change, so root cannot be regained).

use std::ffi::CString;

use anyhow::{Context, bail};
use nix::unistd::{Gid, Group, Uid, User};

/// The user and group to run as.
#[derive(Debug, Clone)]
pub struct RunAs {
    /// User name (for initgroups and messages).
    pub name: String,
    /// User ID.
    pub uid: Uid,
    /// Group ID.
    pub gid: Gid,
}

impl RunAs {
    /// Resolves `[server] user` and `group`; `None` when `user` is empty. An unknown user or
    /// group is an error naming it.
    pub fn from_config(user: &str, group: &str) -> anyhow::Result<Option<RunAs>> {
        let user = user.trim();
        if user.is_empty() {
            if !group.trim().is_empty() {
                bail!("server.group: set without server.user (the group to switch to with it)");
            }
            return Ok(None);
        }
        let (uid, primary, name) = lookup_user(user).context("server.user")?;
        let gid = match group.trim() {
            "" => primary,
            g => lookup_group(g).context("server.group")?,
        };
        Ok(Some(RunAs { name, uid, gid }))
    }

    /// Whether [`RunAs::switch`] can succeed for this process: run by the preflight, so that
    /// `config check` and `serve` refuse a non-root start before binding anything.
    pub fn check_switch(&self) -> anyhow::Result<()> {
        self.may_switch_from(nix::unistd::getuid(), nix::unistd::geteuid())
    }

    /// Root may switch; another user only when it already is this one.
    fn may_switch_from(&self, uid: Uid, euid: Uid) -> anyhow::Result<()> {
        if uid.is_root() || (uid == self.uid && euid == self.uid) {
            return Ok(());
        }
        bail!(
            "server.user = {:?}: cannot switch users when not started as root (running as uid {uid})",
            self.name
        );
    }

    /// Switches to this user and group: supplementary groups (the user's, plus `gid`), then
    /// gid, then uid. Not root: fine if already this user, otherwise an error. Afterwards it
    /// checks that root cannot be regained.
    pub fn switch(&self) -> anyhow::Result<()> {
        let uid = nix::unistd::getuid();
        self.may_switch_from(uid, nix::unistd::geteuid())?;
        if !uid.is_root() {
            return Ok(());
        }
        let cname = CString::new(self.name.as_str())
            .with_context(|| format!("server.user {:?}: bad name", self.name))?;
        nix::unistd::initgroups(&cname, self.gid)
            .with_context(|| format!("cannot set the groups of {}", self.name))?;
        nix::unistd::setgid(self.gid).with_context(|| format!("cannot setgid({})", self.gid))?;
        nix::unistd::setuid(self.uid).with_context(|| format!("cannot setuid({})", self.uid))?;
        if nix::unistd::geteuid() != self.uid || nix::unistd::getegid() != self.gid {
            bail!("switching to {} did not take effect", self.name);
        }
        if !self.uid.is_root() && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
            bail!(
                "root privileges could be regained after switching to {}",
                self.name
            );
        }
        Ok(())
    }
}

impl RunAs {
    /// Files among `paths` that this user will not be able to read after [`RunAs::switch`]
    /// (so a SIGHUP reload would fail), each with the reason.
    pub fn unreadable(&self, paths: &[&std::path::Path]) -> Vec<String> {
        use std::os::unix::fs::MetadataExt;
        let mut out = Vec::new();
        for p in paths {
            let Ok(meta) = std::fs::metadata(p) else {
                continue;
            };
            let mode = meta.mode();
            let readable = (meta.uid() == self.uid.as_raw() && mode & 0o400 != 0)
                || (meta.gid() == self.gid.as_raw() && mode & 0o040 != 0)
                || mode & 0o004 != 0
                || self.uid.is_root();
            if !readable {
                out.push(format!(
                    "{} (owner uid {}, mode {:04o}): chown {} it",
                    p.display(),
                    meta.uid(),
                    mode & 0o7777,
                    self.name
                ));
            }
        }
        out
    }
}

/// A user by name or number: (uid, primary gid, name).
pub fn lookup_user(text: &str) -> anyhow::Result<(Uid, Gid, String)> {
    let found = match text.parse::<u32>() {
        Ok(n) => User::from_uid(Uid::from_raw(n)),
        Err(_) => User::from_name(text),
    }
    .with_context(|| format!("cannot look up user {text:?}"))?;
    let user = found.with_context(|| format!("no such user: {text:?}"))?;
    Ok((user.uid, user.gid, user.name))
}

/// A group by name or number.
pub fn lookup_group(text: &str) -> anyhow::Result<Gid> {
    if let Ok(n) = text.parse::<u32>() {
        return Ok(Gid::from_raw(n));
    }
    let found = Group::from_name(text).with_context(|| format!("cannot look up group {text:?}"))?;
    Ok(found
        .with_context(|| format!("no such group: {text:?}"))?
        .gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups() {
        assert_eq!(lookup_user("root").unwrap().0, Uid::from_raw(0));
        assert_eq!(lookup_user("0").unwrap().2, "root");
        assert_eq!(lookup_group("0").unwrap(), Gid::from_raw(0));
        assert!(lookup_user("no-such-user-authmilter").is_err());
        assert!(lookup_group("no-such-group-authmilter").is_err());
        assert!(RunAs::from_config("", "").unwrap().is_none());
        assert!(RunAs::from_config("", "root").is_err());
        let r = RunAs::from_config("root", "").unwrap().unwrap();
        assert_eq!((r.uid.as_raw(), r.gid.as_raw()), (0, 0));
    }

    /// `serve` started as another user than root or `server.user` binds, then cannot switch:
    /// the preflight (and `config check`) says so first, with the same message.
    #[test]
    fn switching_needs_root_or_the_user_itself() {
        let nobody = RunAs {
            name: "nobody".into(),
            uid: Uid::from_raw(65534),
            gid: Gid::from_raw(65534),
        };
        let (root, other) = (Uid::from_raw(0), Uid::from_raw(1000));
        assert!(nobody.may_switch_from(root, root).is_ok());
        assert!(nobody.may_switch_from(nobody.uid, nobody.uid).is_ok());
        let err = nobody
            .may_switch_from(other, other)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot switch users when not started as root"),
            "{err}"
        );
    }
}
