<?php

declare(strict_types=1);

namespace Spiral\Goridge;

/**
 * Stand-in for spiral/goridge 4.x's relay, by name only: RoadRunner's Worker takes one in its
 * constructor, so a container cannot build a Worker by autowiring. Its methods (frames in and out)
 * are left out, because nothing in these tests talks to RoadRunner.
 */
interface RelayInterface
{
}
