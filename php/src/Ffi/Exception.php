<?php

declare(strict_types=1);

namespace Ticker\Ffi;

/**
 * What {@see Ticker} throws: FFI is unavailable or disabled, the C library cannot be loaded, an
 * interval, policy or timeout is refused, or the library reported an error. The message says
 * which, and what to do.
 */
final class Exception extends \RuntimeException
{
}
