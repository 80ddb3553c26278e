"""How the tests, the bench and the examples start the system's Chromium to open a page from disk:
headless (Playwright's default), and asking for nothing in the background (no GPU, no component
updates, no sync, no first-run pages), so that the only request a page makes is its own file."""

CHROMIUM = "/usr/bin/chromium"  # the system's (Debian's) browser: nothing is downloaded to test
ARGS = (
    "--no-sandbox",  # needed as root, as in CI's containers
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
)
