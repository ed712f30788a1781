<?php

declare(strict_types=1);

namespace Ticker;

/** Test double of the extension's exception. */
class Exception extends \RuntimeException
{
}
