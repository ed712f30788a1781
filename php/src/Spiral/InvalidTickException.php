<?php

declare(strict_types=1);

namespace Ticker\Spiral;

/**
 * A payload that is not a tick: the master and this package disagree about the format.
 */
final class InvalidTickException extends \UnexpectedValueException
{
}
