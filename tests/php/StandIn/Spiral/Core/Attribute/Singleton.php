<?php

declare(strict_types=1);

namespace Spiral\Core\Attribute;

/**
 * Stand-in for spiral/core 3.x: a class marked with it is built once by the container, which then
 * gives that instance to whoever asks for the class (Support\Container honours it).
 */
#[\Attribute(\Attribute::TARGET_CLASS)]
final class Singleton
{
}
