#!/usr/bin/env bash
# The two Composer packages of the repository (docs/packaging.md):
# - composer.json, ticker/ticker, the PHP code: requires nothing but PHP, so an application that
#   uses only Ticker\Ffi\Ticker pulls no Spiral or RoadRunner package; Spiral's are suggested,
#   their versions held by `conflict`;
# - pie/composer.json, ticker/ticker-ext, the extension for PIE: type php-ext, named ticker,
#   NTS only, Linux only, pre-built binaries first, phpize from ext/ otherwise.
#   tests/packaging/composer.sh      (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
PHP=${PHP:-php}

composer validate --strict --no-check-publish composer.json
# Composer before 2.7 does not know the php-ext section, so only the plain validation holds
# everywhere; the section itself is checked below.
out=$(composer validate --no-check-publish pie/composer.json 2>&1) || { echo "$out" >&2; exit 1; }

$PHP -n -r '
$fail = static function (string $why): never { fwrite(STDERR, "composer test: $why\n"); exit(1); };
$lib = json_decode(file_get_contents("composer.json"), true, flags: JSON_THROW_ON_ERROR);
$ext = json_decode(file_get_contents("pie/composer.json"), true, flags: JSON_THROW_ON_ERROR);
foreach (array_keys($lib["require"] ?? []) as $name) {
    if ($name !== "php" && !str_starts_with($name, "ext-")) {
        $fail("composer.json requires $name: an application using only Ticker\\Ffi would install it");
    }
}
foreach (["spiral/boot", "spiral/core", "spiral/roadrunner-worker"] as $name) {
    isset($lib["suggest"][$name], $lib["conflict"][$name])
        || $fail("composer.json neither suggests $name nor bounds its version with conflict");
}
$ext["name"] !== $lib["name"] || $fail("the PIE package has the same name as the PHP package");
($ext["type"] ?? null) === "php-ext" || $fail("pie/composer.json: type is not php-ext");
$want = [
    "extension-name" => "ticker",
    "support-zts" => false,
    "build-path" => "ext",
    "os-families" => ["linux"],
    "download-url-method" => ["pre-packaged-binary", "composer-default"],
];
foreach ($want as $key => $value) {
    ($ext["php-ext"][$key] ?? null) === $value
        || $fail("pie/composer.json: php-ext." . $key . " is " . json_encode($ext["php-ext"][$key] ?? null) . ", not " . json_encode($value));
}
is_int($ext["php-ext"]["priority"] ?? null) || $fail("pie/composer.json: php-ext.priority is not set");
is_file($ext["php-ext"]["build-path"] . "/config.m4") || $fail("pie/composer.json: no config.m4 in build-path");
echo "composer test: ticker/ticker requires only PHP; ticker/ticker-ext is a php-ext package for PIE\n";
'
