pub use monocoque_zmtp as zmtp;
