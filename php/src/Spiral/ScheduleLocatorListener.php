<?php

declare(strict_types=1);

namespace Ticker\Spiral;

use Spiral\Tokenizer\Attribute\TargetAttribute;
use Spiral\Tokenizer\TokenizationListenerInterface;
use Ticker\Spiral\Attribute\Schedule;

/**
 * Spiral's tokenizer hands it the application's classes at boot; it puts each class marked
 * #[Schedule('name')] into ScheduleHandlers as the handler of that schedule. TickerBootloader
 * registers it where spiral/tokenizer is installed. `TargetAttribute` lets the tokenizer hand it only
 * the classes with the attribute, and cache which those are; the tokenizers that hand it every class
 * are served too.
 *
 * A marked class that the container cannot build (abstract, an interface or a trait) or that is not a
 * TickHandlerInterface fails the boot, naming the class, rather than leaving its schedule to another
 * handler.
 */
#[TargetAttribute(Schedule::class)]
final class ScheduleLocatorListener implements TokenizationListenerInterface
{
    public function __construct(private readonly ScheduleHandlers $handlers)
    {
    }

    public function listen(\ReflectionClass $class): void
    {
        $attributes = $class->getAttributes(Schedule::class);
        if ($attributes === []) {
            return;
        }
        if ($class->isInterface() || $class->isTrait() || $class->isAbstract()) {
            throw new \InvalidArgumentException(\sprintf(
                '%s has #[%s] but is not a class the container can build: a schedule\'s handler must be concrete',
                $class->getName(),
                Schedule::class,
            ));
        }

        foreach ($attributes as $attribute) {
            $this->handlers->add([$attribute->newInstance()->name => $class->getName()]);
        }
    }

    public function finalize(): void
    {
    }
}
