# The phpize build's one target: modules/ticker.so, the cdylib cargo links, copied.
# A plain file target with the Rust sources as prerequisites: `make -j` runs cargo once, and a
# `sudo make install` after `make` finds it up to date and never runs cargo (as root, with
# another HOME and PATH, cargo would rebuild everything or not be found).
# CARGO_TARGET_DIR, if set, is honoured: the .so is found where cargo says it put it.

TICKER_SOURCES = $(TICKER_WORKSPACE)/Cargo.toml $(wildcard $(TICKER_WORKSPACE)/Cargo.lock) \
	$(TICKER_WORKSPACE)/ext/Cargo.toml \
	$(shell find $(TICKER_WORKSPACE)/src $(TICKER_WORKSPACE)/ext/src -name '*.rs' 2>/dev/null)

$(phplibdir)/ticker.so: $(TICKER_SOURCES)
	cd $(TICKER_WORKSPACE) && PHP_CONFIG=$(TICKER_PHP_CONFIG) PHP=$(PHP_EXECUTABLE) \
		$(CARGO) build --release -p ticker-php $(CARGO_FLAGS)
	@target=`cd $(TICKER_WORKSPACE) && $(CARGO) metadata --format-version 1 --no-deps | \
		$(PHP_EXECUTABLE) -n -r 'echo json_decode(stream_get_contents(STDIN))->target_directory;'` && \
		$(mkinstalldirs) $(phplibdir) && \
		cp "$$target/release/libticker_php.so" $@.tmp && mv $@.tmp $@ && \
		echo "copied $$target/release/libticker_php.so to $@"
