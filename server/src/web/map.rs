//! The county map of the United States, drawn as SVG on the server from the county shapes
//! compiled into the binary (`data/county-shapes.tsv`, generated from the Census shapes by
//! `scripts/generate-places`). No tiles, no script: a path per county, coloured by a class.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

const SHAPES_TSV: &str = include_str!("../../data/county-shapes.tsv");

/// The frame the shapes are drawn in.
const VIEW_BOX: &str = "0 0 1950 1220";

struct Shapes {
    counties: Vec<(&'static str, &'static str)>,
    states: &'static str,
}

fn shapes() -> &'static Shapes {
    static SHAPES: OnceLock<Shapes> = OnceLock::new();
    SHAPES.get_or_init(|| {
        let mut counties = Vec::new();
        let mut states = "";
        for line in SHAPES_TSV.lines().filter(|l| !l.starts_with('#')) {
            if let Some((id, d)) = line.split_once('\t') {
                if id == "states" {
                    states = d;
                } else {
                    counties.push((id, d));
                }
            }
        }
        Shapes { counties, states }
    })
}

/// How one county is drawn: its class, its tooltip and where it links.
#[derive(Clone, Debug)]
pub struct Shade {
    /// The CSS class (its colour).
    pub class: &'static str,
    /// The tooltip, in words.
    pub title: String,
    /// Where it links, if anywhere.
    pub href: Option<String>,
}

/// The map: every county, shaded as `shades` says (the rest in the class `s0`, with no
/// tooltip or link), the states' borders on top. `label` names the map for screen readers.
pub fn svg(label: &str, shades: &HashMap<String, Shade>) -> String {
    let s = shapes();
    let mut out = String::with_capacity(SHAPES_TSV.len() + shades.len() * 120 + 200);
    let _ = write!(
        out,
        "<svg class=\"map\" viewBox=\"{VIEW_BOX}\" role=\"img\" aria-label=\"{}\">\
         <g class=\"counties\">",
        escape(label)
    );
    for (fips, d) in &s.counties {
        match shades.get(*fips) {
            None => {
                let _ = write!(out, "<path d=\"{d}\"/>");
            }
            Some(shade) => {
                if let Some(href) = &shade.href {
                    let _ = write!(out, "<a href=\"{}\">", escape(href));
                }
                let _ = write!(
                    out,
                    "<path class=\"{}\" d=\"{d}\"><title>{}</title></path>",
                    shade.class,
                    escape(&shade.title)
                );
                if shade.href.is_some() {
                    out.push_str("</a>");
                }
            }
        }
    }
    let _ = write!(out, "</g><path class=\"states\" d=\"{}\"/></svg>", s.states);
    out
}

/// How many counties the map draws.
pub fn county_count() -> usize {
    shapes().counties.len()
}

/// Whether the map has a shape for this county (territories have none).
pub fn has_shape(fips: &str) -> bool {
    shapes()
        .counties
        .binary_search_by(|(f, _)| (*f).cmp(fips))
        .is_ok()
}

/// Escapes text for HTML and SVG content and attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_county_is_drawn_and_shades_are_escaped() {
        let mut shades = HashMap::new();
        shades.insert(
            "06065".to_owned(),
            Shade {
                class: "s3",
                title: "Riverside, CA: <some> rules".into(),
                href: Some("/campaign/county/06065".into()),
            },
        );
        let svg = svg("Counties", &shades);
        assert_eq!(svg.matches("<path").count(), shapes().counties.len() + 1);
        assert!(shapes().counties.len() > 3_100);
        assert!(svg.contains("<a href=\"/campaign/county/06065\"><path class=\"s3\" d=\"M"));
        assert!(svg.contains("<title>Riverside, CA: &lt;some&gt; rules</title>"));
        assert!(has_shape("06065"));
        assert!(!has_shape("99999"));
        assert!(!shapes().states.is_empty());
    }
}
