//! The workspace's assets (upstream's `RocketChatAssets`): the images an administrator may
//! replace, each with the file types and exact dimensions it takes. Each is the setting
//! `Assets_<name>`, whose value is `{url, defaultUrl}` while one is set, `{defaultUrl}` otherwise.

/// One replaceable asset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    pub name: &'static str,
    /// Where the built-in image is (upstream's paths); `None` when there is none.
    pub default_url: Option<&'static str>,
    /// The file extensions (from the content type) the asset takes.
    pub extensions: &'static [&'static str],
    /// The exact width and height a raster asset must have, when fixed.
    pub size: Option<(u32, u32)>,
}

const IMAGES: &[&str] = &["svg", "png", "jpg", "jpeg"];
const PNG: &[&str] = &["png"];
const SVG: &[&str] = &["svg"];

const fn asset(
    name: &'static str,
    default_url: Option<&'static str>,
    extensions: &'static [&'static str],
    size: Option<(u32, u32)>,
) -> Asset {
    Asset {
        name,
        default_url,
        extensions,
        size,
    }
}

/// Upstream's assets, in upstream's order (the Omnichannel widget logo left out: Comet has no
/// Omnichannel).
pub const ASSETS: &[Asset] = &[
    asset("logo", Some("images/logo/logo.svg"), IMAGES, None),
    asset("logo_dark", Some("images/logo/logo_dark.svg"), IMAGES, None),
    asset("background", None, IMAGES, None),
    asset("background_dark", None, IMAGES, None),
    asset("favicon_ico", Some("favicon.ico"), &["ico"], None),
    asset("favicon", Some("images/logo/icon.svg"), SVG, None),
    asset(
        "favicon_16",
        Some("images/logo/favicon-16x16.png"),
        PNG,
        Some((16, 16)),
    ),
    asset(
        "favicon_32",
        Some("images/logo/favicon-32x32.png"),
        PNG,
        Some((32, 32)),
    ),
    asset(
        "favicon_192",
        Some("images/logo/android-chrome-192x192.png"),
        PNG,
        Some((192, 192)),
    ),
    asset(
        "favicon_512",
        Some("images/logo/android-chrome-512x512.png"),
        PNG,
        Some((512, 512)),
    ),
    asset(
        "touchicon_180",
        Some("images/logo/apple-touch-icon.png"),
        PNG,
        Some((180, 180)),
    ),
    asset(
        "touchicon_180_pre",
        Some("images/logo/apple-touch-icon-precomposed.png"),
        PNG,
        Some((180, 180)),
    ),
    asset(
        "tile_70",
        Some("images/logo/mstile-70x70.png"),
        PNG,
        Some((70, 70)),
    ),
    asset(
        "tile_144",
        Some("images/logo/mstile-144x144.png"),
        PNG,
        Some((144, 144)),
    ),
    asset(
        "tile_150",
        Some("images/logo/mstile-150x150.png"),
        PNG,
        Some((150, 150)),
    ),
    asset(
        "tile_310_square",
        Some("images/logo/mstile-310x310.png"),
        PNG,
        Some((310, 310)),
    ),
    asset(
        "tile_310_wide",
        Some("images/logo/mstile-310x150.png"),
        PNG,
        Some((310, 150)),
    ),
    asset(
        "safari_pinned",
        Some("images/logo/safari-pinned-tab.svg"),
        SVG,
        None,
    ),
];

/// The asset named `name`.
pub fn asset_named(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The setting holding an asset.
pub fn setting_id(name: &str) -> String {
    format!("Assets_{name}")
}

/// The extension upstream derives from a content type (`mime-types`' first extension).
pub fn extension_of(content_type: &str) -> Option<&'static str> {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    Some(match essence.to_ascii_lowercase().as_str() {
        "image/svg+xml" => "svg",
        "image/png" => "png",
        "image/jpeg" | "image/pjpeg" => "jpeg",
        "image/x-icon" | "image/vnd.microsoft.icon" => "ico",
        "image/gif" => "gif",
        "image/webp" => "webp",
        _ => return None,
    })
}

/// The content type an asset is served with, from its extension.
pub fn content_type_of(extension: &str) -> &'static str {
    match extension {
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "ico" => "image/x-icon",
        _ => "application/octet-stream",
    }
}

/// The setting value of an asset: `{url, defaultUrl}` with a file set, `{defaultUrl}` without.
pub fn setting_value(asset: &Asset, extension: Option<&str>) -> serde_json::Value {
    let mut value = serde_json::Map::new();
    if let Some(extension) = extension {
        value.insert(
            "url".into(),
            format!("assets/{}.{extension}", asset.name).into(),
        );
    }
    if let Some(default_url) = asset.default_url {
        value.insert("defaultUrl".into(), default_url.into());
    }
    serde_json::Value::Object(value)
}

/// The value of an asset's setting before any file is set.
pub fn default_setting_value(name: &str) -> serde_json::Value {
    asset_named(name).map_or(serde_json::json!({}), |asset| setting_value(asset, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_values_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for a in ASSETS {
            assert!(seen.insert(a.name));
        }
        let Some(logo) = asset_named("logo") else {
            panic!("no logo asset");
        };
        assert_eq!(
            setting_value(logo, Some("png")),
            serde_json::json!({"url": "assets/logo.png", "defaultUrl": "images/logo/logo.svg"})
        );
        assert_eq!(extension_of("image/svg+xml; charset=utf-8"), Some("svg"));
        assert!(asset_named("livechat_widget_logo").is_none());
    }
}
