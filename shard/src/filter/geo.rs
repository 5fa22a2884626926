//! Geo conditions: radius (haversine), bounding box, polygon with holes.
//!
//! A payload geo point is an object with numeric `lat` and `lon` (other keys ignored). All
//! shape borders are exclusive, as in Qdrant: a point exactly on an edge does not match.

use serde::Deserialize;
use serde_json::Value;

/// Mean Earth radius (IUGG), the one Qdrant's haversine uses.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Fewest points of a closed ring (a triangle plus the repeated first point), as in GeoJSON.
pub const RING_POINTS_MIN: usize = 4;

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoPoint {
    pub lon: f64,
    pub lat: f64,
}

#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoRadius {
    pub center: GeoPoint,
    /// Meters.
    pub radius: f64,
}

/// `top_left.lon > bottom_right.lon` means the box crosses the antimeridian.
#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoBoundingBox {
    pub top_left: GeoPoint,
    pub bottom_right: GeoPoint,
}

#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoLineString {
    pub points: Vec<GeoPoint>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoPolygon {
    pub exterior: GeoLineString,
    /// Holes.
    #[serde(default)]
    pub interiors: Option<Vec<GeoLineString>>,
}

impl GeoPoint {
    /// Reads a payload value as a geo point.
    pub fn from_payload(v: &Value) -> Option<GeoPoint> {
        let obj = v.as_object()?;
        let lat = obj.get("lat")?.as_f64()?;
        let lon = obj.get("lon")?.as_f64()?;
        Some(GeoPoint { lon, lat })
    }

    pub fn validate(&self) -> Result<(), String> {
        if !(-90.0..=90.0).contains(&self.lat) || !(-180.0..=180.0).contains(&self.lon) {
            return Err(format!(
                "geo point (lat {}, lon {}) out of range: lat must be in [-90, 90], lon in [-180, 180]",
                self.lat, self.lon
            ));
        }
        Ok(())
    }

    /// Great-circle distance in meters.
    pub fn haversine_m(&self, other: &GeoPoint) -> f64 {
        let (lat1, lat2) = (self.lat.to_radians(), other.lat.to_radians());
        let dlat = lat2 - lat1;
        let dlon = (other.lon - self.lon).to_radians();
        let a = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * a.sqrt().min(1.0).asin()
    }
}

impl GeoRadius {
    pub fn contains(&self, p: &GeoPoint) -> bool {
        self.center.haversine_m(p) < self.radius
    }
}

impl GeoBoundingBox {
    pub fn contains(&self, p: &GeoPoint) -> bool {
        let (tl, br) = (&self.top_left, &self.bottom_right);
        let lon_ok = if tl.lon > br.lon {
            p.lon > tl.lon || p.lon < br.lon
        } else {
            tl.lon < p.lon && p.lon < br.lon
        };
        lon_ok && br.lat < p.lat && p.lat < tl.lat
    }
}

impl GeoLineString {
    pub fn validate(&self, what: &str) -> Result<(), String> {
        let pts = &self.points;
        if pts.len() < RING_POINTS_MIN {
            return Err(format!(
                "polygon {what} has {} points; a ring needs at least {RING_POINTS_MIN}",
                pts.len()
            ));
        }
        if pts.first() != pts.last() {
            return Err(format!(
                "polygon {what} is not closed: its first and last points must be the same"
            ));
        }
        pts.iter().try_for_each(GeoPoint::validate)
    }
}

/// Where a point lies relative to a ring, treating (lon, lat) as plane coordinates.
#[derive(PartialEq)]
enum Side {
    Inside,
    Outside,
    Border,
}

fn ring_side(ring: &[GeoPoint], p: &GeoPoint) -> Side {
    let mut inside = false;
    for w in ring.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        if on_segment(a, b, p) {
            return Side::Border;
        }
        // Even-odd rule: count edges crossed by a ray from `p` towards +lon.
        if (a.lat > p.lat) != (b.lat > p.lat) {
            let lon_at = a.lon + (p.lat - a.lat) * (b.lon - a.lon) / (b.lat - a.lat);
            if p.lon < lon_at {
                inside = !inside;
            }
        }
    }
    if inside {
        Side::Inside
    } else {
        Side::Outside
    }
}

fn on_segment(a: &GeoPoint, b: &GeoPoint, p: &GeoPoint) -> bool {
    let cross = (b.lon - a.lon) * (p.lat - a.lat) - (b.lat - a.lat) * (p.lon - a.lon);
    cross == 0.0
        && p.lon >= a.lon.min(b.lon)
        && p.lon <= a.lon.max(b.lon)
        && p.lat >= a.lat.min(b.lat)
        && p.lat <= a.lat.max(b.lat)
}

impl GeoPolygon {
    pub fn contains(&self, p: &GeoPoint) -> bool {
        ring_side(&self.exterior.points, p) == Side::Inside
            && self
                .interiors
                .iter()
                .flatten()
                .all(|hole| ring_side(&hole.points, p) == Side::Outside)
    }

    pub fn validate(&self) -> Result<(), String> {
        self.exterior.validate("exterior")?;
        for (i, hole) in self.interiors.iter().flatten().enumerate() {
            hole.validate(&format!("interior {i}"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(lon: f64, lat: f64) -> GeoPoint {
        GeoPoint { lon, lat }
    }

    #[test]
    fn haversine_known_distances() {
        let berlin = pt(13.4050, 52.5200);
        let moscow = pt(37.6173, 55.7558);
        let d = berlin.haversine_m(&moscow);
        assert!((1_600_000.0..1_620_000.0).contains(&d), "{d}");
        assert_eq!(berlin.haversine_m(&berlin), 0.0);
        // A quarter meridian is pi/2 * R.
        let q = pt(0.0, 0.0).haversine_m(&pt(0.0, 90.0));
        assert!((q - std::f64::consts::FRAC_PI_2 * EARTH_RADIUS_M).abs() < 1e-6);
        // Antipodes: no NaN from rounding.
        let h = pt(0.0, 0.0).haversine_m(&pt(180.0, 0.0));
        assert!(
            (h - std::f64::consts::PI * EARTH_RADIUS_M).abs() < 1e-3,
            "{h}"
        );
    }

    #[test]
    fn radius_is_exclusive() {
        let c = GeoRadius {
            center: pt(0.0, 0.0),
            radius: 1000.0,
        };
        assert!(c.contains(&pt(0.0, 0.008)));
        assert!(!c.contains(&pt(0.0, 0.01)));
        let zero = GeoRadius {
            center: pt(0.0, 0.0),
            radius: 0.0,
        };
        assert!(!zero.contains(&pt(0.0, 0.0)));
    }

    #[test]
    fn bounding_box_plain_and_antimeridian() {
        let b = GeoBoundingBox {
            top_left: pt(10.0, 50.0),
            bottom_right: pt(20.0, 40.0),
        };
        assert!(b.contains(&pt(15.0, 45.0)));
        assert!(!b.contains(&pt(10.0, 45.0)), "edge excluded");
        assert!(!b.contains(&pt(25.0, 45.0)));
        assert!(!b.contains(&pt(15.0, 55.0)));
        let wrap = GeoBoundingBox {
            top_left: pt(170.0, 10.0),
            bottom_right: pt(-170.0, -10.0),
        };
        assert!(wrap.contains(&pt(175.0, 0.0)));
        assert!(wrap.contains(&pt(-175.0, 0.0)));
        assert!(!wrap.contains(&pt(0.0, 0.0)));
    }

    #[test]
    fn polygon_with_hole() {
        let ring = |c: &[(f64, f64)]| GeoLineString {
            points: c.iter().map(|&(lon, lat)| pt(lon, lat)).collect(),
        };
        let poly = GeoPolygon {
            exterior: ring(&[
                (0.0, 0.0),
                (10.0, 0.0),
                (10.0, 10.0),
                (0.0, 10.0),
                (0.0, 0.0),
            ]),
            interiors: Some(vec![ring(&[
                (4.0, 4.0),
                (6.0, 4.0),
                (6.0, 6.0),
                (4.0, 6.0),
                (4.0, 4.0),
            ])]),
        };
        assert!(poly.validate().is_ok());
        assert!(poly.contains(&pt(2.0, 2.0)));
        assert!(!poly.contains(&pt(5.0, 5.0)), "in the hole");
        assert!(!poly.contains(&pt(4.0, 5.0)), "on the hole's border");
        assert!(!poly.contains(&pt(0.0, 5.0)), "on the exterior border");
        assert!(!poly.contains(&pt(10.0, 10.0)), "a vertex");
        assert!(!poly.contains(&pt(11.0, 5.0)));
        assert!(!poly.contains(&pt(-1.0, 5.0)));
        // A concave ring: a "C" shape open to the east.
        let c = GeoPolygon {
            exterior: ring(&[
                (0.0, 0.0),
                (3.0, 0.0),
                (3.0, 1.0),
                (1.0, 1.0),
                (1.0, 2.0),
                (3.0, 2.0),
                (3.0, 3.0),
                (0.0, 3.0),
                (0.0, 0.0),
            ]),
            interiors: None,
        };
        assert!(c.contains(&pt(0.5, 1.5)));
        assert!(!c.contains(&pt(2.0, 1.5)), "in the notch");
        assert!(c.contains(&pt(2.0, 0.5)));
    }

    #[test]
    fn ring_validation() {
        let open = GeoLineString {
            points: vec![pt(0.0, 0.0), pt(1.0, 0.0), pt(1.0, 1.0), pt(0.0, 1.0)],
        };
        assert!(open
            .validate("exterior")
            .unwrap_err()
            .contains("not closed"));
        let short = GeoLineString {
            points: vec![pt(0.0, 0.0), pt(1.0, 0.0), pt(0.0, 0.0)],
        };
        assert!(short
            .validate("exterior")
            .unwrap_err()
            .contains("at least 4"));
        assert!(pt(0.0, 91.0).validate().is_err());
        assert!(pt(-180.5, 0.0).validate().is_err());
        assert!(pt(180.0, -90.0).validate().is_ok());
    }
}
