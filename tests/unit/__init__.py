"""Unit tests; a package, so that test modules named like the packages they test never shadow them."""
