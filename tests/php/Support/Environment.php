<?php

declare(strict_types=1);

namespace Ticker\Spiral\Tests\Support;

use Spiral\Boot\EnvironmentInterface;

/**
 * Spiral's Environment as the dispatcher sees it: the given values over `$_ENV` and `$_SERVER`,
 * captured at construction, with 'true', 'false', 'null' and 'empty' normalised.
 */
final class Environment implements EnvironmentInterface
{
    private const NORMALISED = ['true' => true, 'false' => false, 'null' => null, 'empty' => ''];

    /** @var array<string, mixed> */
    private array $values;

    /**
     * @param array<string, mixed> $values
     */
    public function __construct(array $values = [])
    {
        $this->values = $values + $_ENV + $_SERVER;
    }

    public function getID(): string
    {
        return \md5(\serialize($this->values));
    }

    public function set(string $name, mixed $value): self
    {
        $this->values[$name] = $value;

        return $this;
    }

    public function get(string $name, mixed $default = null): mixed
    {
        if (!\array_key_exists($name, $this->values)) {
            return $default;
        }
        $value = $this->values[$name];
        if (\is_string($value) && \array_key_exists(\strtolower($value), self::NORMALISED)) {
            return self::NORMALISED[\strtolower($value)];
        }

        return $value;
    }

    public function getAll(): array
    {
        return $this->values;
    }
}
